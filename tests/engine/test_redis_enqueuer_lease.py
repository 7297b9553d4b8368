"""One process of all sharing a Redis fills the delivery queue: the holder of the enqueuer's
lease. Others neither read the log nor the subscribers for it; when the holder is killed
the lease lapses and another takes over, and each event is still enqueued exactly once (the
cursor's compare-and-set); a holder stopped gracefully hands the lease over at once.

`GATEWAY_ENQUEUER_LEASE_SECONDS` is short here so that takeovers take seconds."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.engine.test_redis_processes import (
    hubster_integration,
    messages,
    redis_env,
    subscribe,
)
from tests.redis_support import RedisServer
from tests.running_gateway import RunningGateway, ThreadSink, http, hubster_system, start


def leader(gateway: RunningGateway) -> bool:
    text = http("GET", gateway.url + "/metrics").body.decode()
    found = re.search(r"^gateway_delivery_enqueuer_leader (\S+)$", text, re.M)
    assert found, "no gateway_delivery_enqueuer_leader in /metrics"
    return float(found[1]) == 1


def wait_until_leader(gateway: RunningGateway, within: float) -> float:
    """Seconds until `gateway` holds the lease; fails past `within`."""
    started = time.monotonic()
    while not leader(gateway):
        assert time.monotonic() - started < within, "never took the enqueuer's lease"
        time.sleep(0.05)
    return time.monotonic() - started


@dataclass
class Pair:
    """Two processes sharing a Redis: `holder` took the enqueuer's lease first; `other` has
    the integration and a subscriber (`sink`) for `hub`."""

    holder: RunningGateway
    other: RunningGateway
    sink: ThreadSink
    hub: str
    integration: dict[str, Any]

    def post(self, conversation: str, *texts: str) -> dict[str, int]:
        body = hubster_system(conversation, *messages(*texts), hub=self.hub)
        return self.other.post(self.integration, body)


@contextlib.contextmanager
def lease_holder_and_other(redis_server: RedisServer, lease_seconds: float) -> Iterator[Pair]:
    env = {**redis_env(redis_server), "GATEWAY_ENQUEUER_LEASE_SECONDS": str(lease_seconds)}
    holder = start(env=env)
    other = None
    sink = ThreadSink()
    try:
        wait_until_leader(holder, within=5)
        other = start(env=env)
        hub, integration = hubster_integration(other)
        subscribe(other, sink, hub)
        yield Pair(holder, other, sink, hub, integration)
    finally:
        sink.close()
        for gateway in (holder, other):
            if gateway is not None and gateway.process.proc.poll() is None:
                gateway.process.proc.kill()


def test_one_process_enqueues_and_another_takes_over_when_it_is_killed(
    redis_server: RedisServer,
) -> None:
    with lease_holder_and_other(redis_server, 1.5) as pair:
        time.sleep(0.6)  # past the other's first tries for the lease
        assert leader(pair.holder) and not leader(pair.other)
        assert pair.post("conv-1", *(f"a-{n}" for n in range(5))) == {
            "accepted": 5,
            "duplicates": 0,
        }
        pair.sink.wait_for(5)

        pair.holder.process.proc.kill()
        pair.holder.process.proc.wait()
        assert pair.post("conv-2", *(f"b-{n}" for n in range(5))) == {
            "accepted": 5,
            "duplicates": 0,
        }
        took = wait_until_leader(pair.other, within=5)
        assert took < 1.5 + 0.5 + 1  # the lease, a third of it between tries, slack
        ids = pair.sink.wait_for(10)
        time.sleep(1.0)  # long enough for a second copy to show
        assert len(pair.sink.event_ids()) == len(set(ids)) == 10


def test_a_holder_stopped_gracefully_hands_the_lease_over_at_once(
    redis_server: RedisServer,
) -> None:
    """With a lease of 9 s, the other process takes it at its next try (every 3 s), not
    once it lapses (6 to 9 s after the holder's last renewal): the holder gave it up."""
    with lease_holder_and_other(redis_server, 9) as pair:
        assert not leader(pair.other)
        pair.holder.stop()  # SIGTERM: drains, exits 0
        wait_until_leader(pair.other, within=4.5)
        assert pair.post("conv-1", "after the handover") == {"accepted": 1, "duplicates": 0}
        assert len(pair.sink.wait_for(1)) == 1
