"""Two `python -m gateway serve` processes on one redis-server behave as one gateway: what
one stores reaches the other's agents, a redelivery to the other is a duplicate, presence
crosses between them."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.redis_support import RedisServer, fresh_prefix
from tests.running_gateway import RunningGateway, agent_token, hubster_system, running

TIMEOUT = 10


@pytest.fixture(scope="module")
def pair(redis_server: RedisServer) -> Iterator[tuple[RunningGateway, RunningGateway]]:
    env = {"GATEWAY_REDIS_URL": redis_server.url, "GATEWAY_REDIS_KEY_PREFIX": fresh_prefix()}
    with ExitStack() as stack:
        first = stack.enter_context(running(env=env))
        second = stack.enter_context(running(env=env))
        assert first.process.engine == second.process.engine == "redis"
        yield first, second


@contextmanager
def agent(gateway: RunningGateway, agent_id: str, hub: str) -> Iterator[ClientConnection]:
    url = gateway.url.replace("http://", "ws://") + "/ws"
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
