"""Redis killed under load, then started again: a real `python -m gateway serve` on a
redis-server keeping an append-only file fsynced at every write (so the restarted server
holds everything it acknowledged), webhooks posted throughout, an agent's websocket open
and a subscriber's sink listening.

Every webhook answered 202 is stored, reaches the agent (in order, once) and is delivered;
every other one was answered 503; `/readyz` turns 503 within 10 s; an admin write during
the outage is a 503 that left nothing behind; the log says once that Redis went and once
that it came back."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.conftest import start_gateway
from tests.redis_support import RedisServer, fresh_prefix
from tests.running_gateway import (
    GATEWAY_ENV,
    RunningGateway,
    ThreadSink,
    WebhookLoad,
    agent_token,
    http,
)

READY_WITHIN_SECONDS = 10.0


class Agent:
    """An agent's websocket read on a thread of its own, keeping every event it receives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        self.events: list[tuple[str, str]] = []
        """(event id, message text) in the order received."""
        self.closed: int | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for message in self.ws:
                frame = json.loads(message)
                if frame["type"] == "event":
                    event = frame["event"]
                    self.events.append((event["id"], event["message"]["text"]))
        except ConnectionClosed:
            pass
        self.closed = self.ws.close_code

    def texts(self) -> list[str]:
        return [text for _, text in list(self.events)]


@contextmanager
def agent(gateway: RunningGateway, hub: str) -> Iterator[Agent]:
    url = gateway.url.replace("http://", "ws://") + "/ws"
    token = agent_token("ann", [hub], ttl=3600)
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        yield Agent(ws)


class Readiness:
    """`/readyz` polled every 100 ms on a thread of its own: (time, status) of each."""

    def __init__(self, gateway: RunningGateway) -> None:
        self.gateway = gateway
        self.seen: list[tuple[float, int]] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stopped.wait(0.1):
            self.seen.append((time.monotonic(), http("GET", self.gateway.url + "/readyz").status))

    def first(self, status: int, after: float) -> float | None:
        return next((at for at, seen in list(self.seen) if at >= after and seen == status), None)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(5)


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", "--appendonly", "yes", "--appendfsync", "always")
    yield server.start()
    server.stop(kill=True)


def _wait_for(what: str, done: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_redis_killed_under_load_loses_nothing_answered_202(
    durable_redis: RedisServer, tmp_path: Path
) -> None:
    log_file = tmp_path / "gateway.log"
    prefix = fresh_prefix()
    env = {
        **GATEWAY_ENV,
        "GATEWAY_REDIS_URL": durable_redis.url,
        "GATEWAY_REDIS_KEY_PREFIX": prefix,
        "GATEWAY_REDIS_CONNECT_TIMEOUT_SECONDS": "0.5",
        "GATEWAY_REDIS_TIMEOUT_SECONDS": "1",
        "GATEWAY_ALLOW_PRIVATE_TARGETS": "1",
        "GATEWAY_RETRY_SCHEDULE": "0,0.2,0.5,1,1,1,1,1",
        "GATEWAY_DELIVERY_TIMEOUT_SECONDS": "2",
        "GATEWAY_DELIVERY_LEASE_MARGIN_SECONDS": "1",
    }
    gateway = RunningGateway(start_gateway(env=env, log_file=log_file))
    sink = ThreadSink()
    hub = "hub-outage"
    try:
        integration = gateway.integration("hubster-system", hub)
        subscriber = {"url": sink.url(), "events": ["message"], "format": "standard"}
        gateway.admin("POST", "/subscribers", subscriber)
        with agent(gateway, hub) as ann:
            readiness = Readiness(gateway)
            load = WebhookLoad(gateway, integration, hub).start()
            try:
                load.wait_accepted(40)
                durable_redis.stop(kill=True)
                killed = time.monotonic()
                _wait_for("/readyz never said 503", lambda: readiness.first(503, killed))
                unready = readiness.first(503, killed)
                assert unready is not None and unready - killed < READY_WITHIN_SECONDS
                assert _admin_write_refused(gateway, hub)
                time.sleep(max(0.0, killed + 3 - time.monotonic()))  # a few backoffs long
                durable_redis.start()
                load.wait_accepted(40, after=load.sent())
            finally:
                load.stop()
            _wait_for("/readyz never ready again", lambda: readiness.first(200, killed))
            readiness.stop()

            assert set(load.answers.values()) <= {202, 503}, set(load.answers.values())
            assert 503 in load.answers.values()
            accepted = load.accepted()
            entries = durable_redis.client().xrange("{" + prefix + ":log}:events")
            stored = {json.loads(fields[b"p"])["message"]["text"] for _, fields in entries}
            assert accepted <= stored  # a 503 whose reply was lost may be stored too
            _wait_for("the agent missed some", lambda: accepted <= set(ann.texts()))
            ids = [event_id for event_id, _ in ann.events]
            assert ids == sorted(set(ids))  # in order, none twice
            assert set(ann.texts()) <= stored
            assert ann.closed is None  # the websocket stayed open throughout
            _wait_for("not all delivered", lambda: accepted <= _delivered_texts(sink))
        assert "made-in-the-outage" not in {
            item["name"] for item in gateway.admin("GET", "/integrations")["results"]
        }
        gateway.stop()
    finally:
        sink.close()
        if gateway.process.proc.poll() is None:
            gateway.process.proc.kill()
    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line[:1] == "{"]
    redis_lines = [line["msg"] for line in lines if line["logger"] == "gateway.redis"]
    assert len([msg for msg in redis_lines if "is unavailable" in msg]) == 1, redis_lines
    assert len([msg for msg in redis_lines if "available again" in msg]) == 1, redis_lines
    assert [line for line in lines if line["level"] in ("error", "critical")] == []


def _admin_write_refused(gateway: RunningGateway, hub: str) -> bool:
    body = {"name": "made-in-the-outage", "kind": "standard", "hubId": hub, "configuration": {}}
    headers = {"Authorization": f"Bearer {GATEWAY_ENV['GATEWAY_ADMIN_KEY']}"}
    refused = http("POST", gateway.url + "/integrations", json.dumps(body).encode(), headers)
    return refused.status == 503 and refused.json()["error"]["code"] == "unavailable"


def _delivered_texts(sink: ThreadSink) -> set[str]:
    return {json.loads(item.body)["message"]["text"] for item in list(sink.received)}
