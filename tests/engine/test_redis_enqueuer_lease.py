"""One process of all sharing a Redis fills the delivery queue: the holder of the enqueuer's
lease. Others neither read the log nor the subscribers for it; when the holder is killed
the lease lapses and another takes over, and each event is still enqueued exactly once (the
cursor's compare-and-set); a holder stopped gracefully hands the lease over at once.

`GATEWAY_ENQUEUER_LEASE_SECONDS` is short here so that takeovers take seconds."""

from __future__ import annotations

import re
import time

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


def test_one_process_enqueues_and_another_takes_over_when_it_is_killed(
    redis_server: RedisServer,
) -> None:
    env = {**redis_env(redis_server), "GATEWAY_ENQUEUER_LEASE_SECONDS": "1.5"}
    holder = start(env=env)
    other = None
    sink = ThreadSink()
    try:
        wait_until_leader(holder, within=5)
        other = start(env=env)
        hub, integration = hubster_integration(other)
        subscribe(other, sink, hub)
        time.sleep(0.6)  # past the other's first tries for the lease
        assert leader(holder) and not leader(other)
        body = hubster_system("conv-1", *messages(*(f"a-{n}" for n in range(5))), hub=hub)
        assert other.post(integration, body) == {"accepted": 5, "duplicates": 0}
        sink.wait_for(5)

        holder.process.proc.kill()
        holder.process.proc.wait()
        body = hubster_system("conv-2", *messages(*(f"b-{n}" for n in range(5))), hub=hub)
        assert other.post(integration, body) == {"accepted": 5, "duplicates": 0}
        took = wait_until_leader(other, within=5)
        assert took < 1.5 + 0.5 + 1  # the lease, a third of it between tries, slack
        ids = sink.wait_for(10)
        time.sleep(1.0)  # long enough for a second copy to show
        assert len(sink.event_ids()) == len(set(ids)) == 10
    finally:
        sink.close()
        for gateway in (holder, other):
            if gateway is not None and gateway.process.proc.poll() is None:
                gateway.process.proc.kill()


def test_a_holder_stopped_gracefully_hands_the_lease_over_at_once(
    redis_server: RedisServer,
) -> None:
    """With a lease of 9 s, the other process takes it at its next try (every 3 s), not
    once it lapses (6 to 9 s after the holder's last renewal): the holder gave it up."""
    env = {**redis_env(redis_server), "GATEWAY_ENQUEUER_LEASE_SECONDS": "9"}
    holder = start(env=env)
    other = None
    sink = ThreadSink()
    try:
        wait_until_leader(holder, within=5)
        other = start(env=env)
        hub, integration = hubster_integration(other)
        subscribe(other, sink, hub)
        assert not leader(other)
        holder.stop()  # SIGTERM: drains, exits 0
        wait_until_leader(other, within=4.5)
        body = hubster_system("conv-1", *messages("after the handover"), hub=hub)
        assert other.post(integration, body) == {"accepted": 1, "duplicates": 0}
        assert len(sink.wait_for(1)) == 1
    finally:
        sink.close()
        for gateway in (holder, other):
            if gateway is not None and gateway.process.proc.poll() is None:
                gateway.process.proc.kill()
