"""Delivery and subscriber test kit (the conftests re-export its fixtures): an in-process
gateway, real aiohttp sink servers, realistic activities put straight into the event log, and a
polling wait (no sleeps that guess timing)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.config import Settings
from gateway.delivery.runtime import RESOLVER
from gateway.delivery.ssrf import Resolver
from gateway.engine.base import Engine
from gateway.engine.events import NewEvent, StoredEvent
from gateway.engine.factory import queue_limits
from gateway.http.app import build_app
from tests.conftest import NewEngine

ADMIN_KEY = "delivery-tests-admin-key"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
HUB = "3bc1e69f-c520-446f-ab2c-01751fd66a31"
TENANT = "abc1e69f-c888-875f-ee2c-45789fd66a00"
INTEGRATION = "7d0c0f52-5f0e-4a57-9b0e-2f1d2b3c4d5e"


def activity(
    type: str = "message:customer",
    *,
    hub: str = HUB,
    conversation: str | None = "c0ffee00-1111-4222-8333-944455556666",
    text: str = "Where is my order?",
) -> dict[str, Any]:
    """An activity event as docs/activity-events.md describes it (without `id`, which the
    engine splices in)."""
    family = type.partition(":")[0]
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return {
        "type": type,
        "occurredAt": now,
        "receivedAt": now,
        "tenantId": TENANT,
        "hubId": hub,
        "integrationId": INTEGRATION,
        "conversationId": conversation,
        "channel": "WebChat",
        "source": {
            "provider": "hubster",
            "eventId": str(int(time.time() * 1000)),
            "attempt": 1,
            "echo": False,
        },
        "sender": {"role": "customer", "id": "11111111-2222-4333-8444-555555555555"},
        "recipient": {"role": "agent", "id": "99999999-8888-4777-8666-555555555555"},
        "message": {"type": "text", "text": text} if family == "message" else None,
        "receipt": {
            "messageId": "176ySDuGoChplVgiz2lcm7",
            "state": "delivered",
            "previousState": "sent",
            "reasonCode": "200",
            "reasonDescription": "SUCCESS",
            "price": 0.035,
        }
        if family == "receipt"
        else None,
        "event": {"type": type.partition(":")[2]} if family == "event" else None,
        "data": {},
    }


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return orjson.loads(self.body)


Responder = Callable[[web.Request, Received], Awaitable[web.StreamResponse]]


async def ok(request: web.Request, received: Received) -> web.StreamResponse:
    return web.Response(status=204)


@dataclass
class Sink:
    """A real HTTP endpoint that records every request and answers with `respond`."""

    respond: Responder = ok
    received: list[Received] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    base: str = ""

    def url(self, path: str = "/hook") -> str:
        return self.base.rstrip("/") + path

    async def handle(self, request: web.Request) -> web.StreamResponse:
        received = Received(request.path, dict(request.headers), await request.read())
        self.received.append(received)
        return await self.respond(request, received)

    async def hang(self, request: web.Request, received: Received) -> web.StreamResponse:
        await self.released.wait()
        return web.Response(status=204)


@pytest.fixture
async def make_sink(aiohttp_server: Any) -> AsyncIterator[Callable[..., Awaitable[Sink]]]:
    sinks: list[Sink] = []

    async def make(respond: Responder | None = None) -> Sink:
        sink = Sink()
        if respond is not None:
            sink.respond = respond
        app = web.Application()
        app.router.add_post("/{tail:.*}", sink.handle)
        server = await aiohttp_server(app)
        sink.base = str(server.make_url("/"))
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.released.set()


@dataclass
class Gateway:
    client: TestClient[Any, Any]
    engine: Engine
    app: web.Application

    async def create_subscriber(self, **body: Any) -> dict[str, Any]:
        response = await self.client.post("/subscribers", json=body, headers=AUTH)
        assert response.status == 201, await response.text()
        created: dict[str, Any] = await response.json()
        return created

    async def subscriber(self, subscriber_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/subscribers/{subscriber_id}", headers=AUTH)
        assert response.status == 200
        found: dict[str, Any] = await response.json()
        return found

    async def attempts(self, subscriber_id: str, status: str = "") -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/subscribers/{subscriber_id}/deliveries",
            params={"status": status, "pageSize": "100"},
            headers=AUTH,
        )
        assert response.status == 200
        page: dict[str, Any] = await response.json()
        results: list[dict[str, Any]] = page["results"]
        return results

    async def store(self, *activities: dict[str, Any]) -> list[StoredEvent]:
        events = [
            NewEvent(
                dedup_key=str(uuid.uuid4()),
                hub_id=item["hubId"],
                conversation_id=item["conversationId"],
                type=item["type"],
                body=orjson.dumps(item),
            )
            for item in activities
        ]
        result = await self.engine.events.append(events, 3600)
        return result.stored


@pytest.fixture
def make_gateway(aiohttp_client: Any, new_engine: NewEngine) -> Callable[..., Awaitable[Gateway]]:
    async def make(
        *, resolver: Resolver | None = None, engine: Any = None, **overrides: Any
    ) -> Gateway:
        options: dict[str, Any] = {
            "port": 0,
            "retry_schedule": [0, 0.05, 0.1],
            "delivery_timeout_seconds": 0.5,
            "allow_private_targets": True,
        }
        options.update(overrides)
        settings = Settings(**options)
        if engine is None:
            engine = await new_engine(queue_limits(settings))
        app = build_app(settings, engine, admin_key=ADMIN_KEY, jwt_secret="j" * 32)
        if resolver is not None:
            app[RESOLVER] = resolver
        client = await aiohttp_client(app)
        return Gateway(client, engine, app)

    return make


async def queue_depth(engine: Any) -> int:
    """Deliveries the engine holds, claimed or not."""
    return int((await engine.deliveries.stats(time.time())).depth)


async def wait_until(
    condition: Callable[[], Any], timeout: float = 10.0, message: str = "condition"
) -> None:
    """Poll `condition` (sync or async) until it is truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.01)
