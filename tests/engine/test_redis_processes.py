"""Two `python -m gateway serve` processes on one redis-server behave as one gateway: what
one stores reaches the other's agents, a redelivery to the other is a duplicate, presence
crosses between them, a subscriber gets each event once however the webhooks were spread,
its rate limit holds across both, an agent that moves to the other resumes where it was,
and deliveries claimed by a process killed with SIGKILL are delivered by the other.

The two processes are shared by the module (each test keeps to hubs of its own); short
delivery timeouts and lease margin keep a takeover within seconds."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.redis_support import RedisServer, fresh_prefix
from tests.running_gateway import (
    RunningGateway,
    ThreadSink,
    agent_token,
    http,
    hubster_system,
    running,
    start,
)

TIMEOUT = 10


DELIVERY_ENV = {
    "GATEWAY_ALLOW_PRIVATE_TARGETS": "1",
    "GATEWAY_DELIVERY_TIMEOUT_SECONDS": "2",
    "GATEWAY_DELIVERY_LEASE_MARGIN_SECONDS": "0.5",
    "GATEWAY_RETRY_SCHEDULE": "0,0.2,0.5,1,1,1",
}


def redis_env(redis_server: RedisServer) -> dict[str, str]:
    """Settings for processes sharing a key prefix of their own on the shared server."""
    return {
        **DELIVERY_ENV,
        "GATEWAY_REDIS_URL": redis_server.url,
        "GATEWAY_REDIS_KEY_PREFIX": fresh_prefix(),
    }


@pytest.fixture(scope="module")
def pair(redis_server: RedisServer) -> Iterator[tuple[RunningGateway, RunningGateway]]:
    env = redis_env(redis_server)
    with ExitStack() as stack:
        first = stack.enter_context(running(env=env))
        second = stack.enter_context(running(env=env))
        assert first.process.engine == second.process.engine == "redis"
        yield first, second


@contextmanager
def agent(
    gateway: RunningGateway, agent_id: str, hub: str, last_event_id: str | None = None
) -> Iterator[ClientConnection]:
    url = gateway.url.replace("http://", "ws://") + "/ws"
    if last_event_id is not None:
        url += f"?lastEventId={last_event_id}"
    token = agent_token(agent_id, [hub], name=agent_id.title())
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert next_frame(ws, "ready")["agentId"] == agent_id
        yield ws


def next_frame(ws: ClientConnection, kind: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while True:
        frame: dict[str, Any] = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if frame["type"] == kind:
            return frame


def hubster_integration(gateway: RunningGateway) -> tuple[str, dict[str, Any]]:
    """A hub of the test's own and a Hubster System integration for it."""
    hub = f"hub-{uuid.uuid4().hex[:8]}"
    return hub, gateway.integration("hubster-system", hub)


def messages(*texts: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text} for text in texts]


def subscribe(gateway: RunningGateway, sink: ThreadSink, hub: str, **extra: Any) -> None:
    body = {"url": sink.url(), "events": ["message"], "hubIds": [hub], **extra}
    gateway.admin("POST", "/subscribers", {"format": "standard", **body})


def delivered(gateway: RunningGateway) -> int:
    """Deliveries this process made that the subscriber accepted (from its `/metrics`)."""
    text = http("GET", gateway.url + "/metrics").body.decode()
    found = re.search(r'^gateway_deliveries_total\{outcome="succeeded"\} (\S+)$', text, re.M)
    return int(float(found[1])) if found else 0


def test_a_webhook_into_one_process_reaches_an_agent_on_the_other(
    pair: tuple[RunningGateway, RunningGateway],
) -> None:
    first, second = pair
    hub, integration = hubster_integration(first)
    with agent(second, "ann", hub) as ws:
        text = f"hello from {first.url}"
        answer = first.post(
            integration, hubster_system("conv-1", {"type": "text", "text": text}, hub=hub)
        )
        assert answer == {"accepted": 1, "duplicates": 0}
        event = next_frame(ws, "event")["event"]
        assert (event["hubId"], event["message"]["text"]) == (hub, text)


def test_a_redelivery_into_the_other_process_is_a_duplicate(
    pair: tuple[RunningGateway, RunningGateway],
) -> None:
    first, second = pair
    hub, integration = hubster_integration(first)
    body = hubster_system(
        "conv-2", {"type": "text", "text": "once"}, {"type": "text", "text": "twice"}, hub=hub
    )
    assert first.post(integration, body) == {"accepted": 2, "duplicates": 0}
    assert second.post(integration, body) == {"accepted": 0, "duplicates": 2}


def test_presence_set_on_one_process_reaches_an_agent_on_the_other(
    pair: tuple[RunningGateway, RunningGateway],
) -> None:
    first, second = pair
    hub = f"hub-{uuid.uuid4().hex[:8]}"
    with agent(second, "bob", hub) as bob, agent(first, "ann", hub) as ann:
        ann.send(json.dumps({"type": "status", "status": "busy"}))
        deadline = time.monotonic() + TIMEOUT
        while True:
            roster = {a["agentId"]: a["status"] for a in next_frame(bob, "presence")["agents"]}
            if roster.get("ann") == "busy":
                break
            assert time.monotonic() < deadline, roster
        assert roster == {"ann": "busy", "bob": "available"}


def test_a_subscriber_gets_each_of_500_events_once_with_webhooks_spread_over_both(
    pair: tuple[RunningGateway, RunningGateway],
) -> None:
    first, second = pair
    hub, integration = hubster_integration(first)
    sink = ThreadSink()
    try:
        subscribe(first, sink, hub)
        before = delivered(first) + delivered(second)
        for n in range(100):
            gateway = (first, second)[n % 2]
            texts = [f"m-{n}-{k}" for k in range(5)]
            body = hubster_system(f"conv-{n}", *messages(*texts), hub=hub)
            assert gateway.post(integration, body) == {"accepted": 5, "duplicates": 0}
        sink.wait_for(500)
        time.sleep(1.0)  # long enough for a second copy to show
        ids = sink.event_ids()
        assert len(ids) == len(set(ids)) == 500
        assert delivered(first) + delivered(second) - before == 500
    finally:
        sink.close()


def test_a_subscriber_rate_limit_holds_across_both_processes(
    pair: tuple[RunningGateway, RunningGateway],
) -> None:
    """10 a second with a burst of 10: over a window of `W` seconds from the first
    delivery, at most 10 + 10 W arrive, though both processes deliver."""
    first, second = pair
    hub, integration = hubster_integration(first)
    sink = ThreadSink()
    try:
        subscribe(first, sink, hub, rateLimitPerSecond=10)
        before = {gateway.url: delivered(gateway) for gateway in pair}
        for n in range(12):
            body = hubster_system(
                f"conv-{n}", *messages(*(f"r-{n}-{k}" for k in range(5))), hub=hub
            )
            (first, second)[n % 2].post(integration, body)
        sink.wait_for(1)
        started = sink.received[0].at
        window = 3.0
        time.sleep(max(0.0, started + window + 0.5 - time.monotonic()))
        arrived = [item.at - started for item in list(sink.received)]
        within = [at for at in arrived if at <= window]
        assert 20 <= len(within) <= 10 + 10 * window
        assert all(delivered(gateway) > before[gateway.url] for gateway in pair)
    finally:
        sink.close()


def test_an_agent_that_moves_to_the_other_process_resumes_where_it_was(
    pair: tuple[RunningGateway, RunningGateway],
) -> None:
    first, second = pair
    hub, integration = hubster_integration(first)
    texts = [f"e-{n}" for n in range(12)]
    seen: list[tuple[str, str]] = []
    with agent(first, "ann", hub) as ws:
        for n, text in enumerate(texts[:10]):
            (first, second)[n % 2].post(
                integration, hubster_system(f"c-{n}", *messages(text), hub=hub)
            )
        for _ in range(3):  # the rest were fanned out to it on the first process: lost
            event = next_frame(ws, "event")["event"]
            seen.append((event["id"], event["message"]["text"]))
    with agent(second, "ann", hub, last_event_id=seen[-1][0]) as ws:
        while True:
            frame = json.loads(ws.recv(timeout=TIMEOUT))
            if frame["type"] == "recovered":
                assert (frame["recovered"], frame["count"]) == (True, 7)
                break
            if frame["type"] == "event":
                seen.append((frame["event"]["id"], frame["event"]["message"]["text"]))
        for n, text in enumerate(texts[10:], start=10):
            (first, second)[n % 2].post(
                integration, hubster_system(f"c-{n}", *messages(text), hub=hub)
            )
        while len(seen) < len(texts):
            event = next_frame(ws, "event")["event"]
            seen.append((event["id"], event["message"]["text"]))
    assert [text for _, text in seen] == texts
    assert [event_id for event_id, _ in seen] == sorted({event_id for event_id, _ in seen})


def test_deliveries_claimed_by_a_killed_process_are_delivered_by_the_other(
    redis_server: RedisServer,
) -> None:
    """The first process claims as many as a subscriber may have in flight across all
    processes (8), held by a slow sink; the second starts (and can claim none), then the
    first is killed with SIGKILL. Once the first's leases run out (its delivery timeout
    plus the margin, 4.5 s), the second delivers every one, and those never attempted."""
    env = redis_env(redis_server)
    lease_seconds = 4.5
    sink = ThreadSink(hold=60)
    victim = start(env={**env, "GATEWAY_DELIVERY_TIMEOUT_SECONDS": "4"})
    try:
        hub, integration = hubster_integration(victim)
        subscribe(victim, sink, hub)
        texts = [f"k-{n}" for n in range(12)]
        victim.post(integration, hubster_system("conv-k", *messages(*texts), hub=hub))
        claimed = sink.wait_for(8)
        first_claimed_at = sink.received[0].at
        with running(env=env) as survivor:
            assert len(sink.event_ids()) == 8  # every slot held by the victim
            victim.process.proc.kill()
            victim.process.proc.wait()
            sink.release()
            ids = sink.wait_for(8 + 12)
            again = ids[8:]
            assert set(claimed) <= set(again) and len(set(again)) == 12
            taken_over_at = sink.received[8].at
            assert taken_over_at - first_claimed_at >= lease_seconds - 0.5  # not before
            assert delivered(survivor) == 12
    finally:
        sink.close()
        if victim.process.proc.poll() is None:
            victim.process.proc.kill()
