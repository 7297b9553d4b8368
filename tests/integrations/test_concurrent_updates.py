"""Concurrent PATCHes of one integration never lose a rotation: every credential a PATCH
answered with is still accepted afterwards (current, or in its rotation grace), whether the
PATCHes run in one process or in two sharing the engine. Every test runs on every engine
(on Redis, "another process" is a second engine over the same data)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiohttp.test_utils import TestClient

import signing
from gateway.config import Settings
from gateway.engine.base import Engine
from gateway.engine.registry import Registry
from gateway.http.app import build_app
from gateway.integrations.store import RECORD_KIND
from tests.conftest import NewEngine
from tests.engine.interleaving import Interleaving

ADMIN_KEY = "integrations-admin-key"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
REGENERATE = orjson.dumps({"regenerateKeys": True})


class RendezvousRegistry:
    """The real registry; while `armed`, a read of an integration is answered only once a
    second read was made too (or after a moment), so two updates that are not serialised
    both work from the same record."""

    def __init__(self, inner: Registry) -> None:
        self.inner = inner
        self.armed = False
        self._readers = 0
        self._met = asyncio.Event()

    async def get(self, kind: str, record_id: str) -> Any:
        record = await self.inner.get(kind, record_id)
        if self.armed and kind == RECORD_KIND:
            self._readers += 1
            if self._readers >= 2:
                self._met.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._met.wait(), 0.3)
        return record

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def start(aiohttp_client: Any, engine: Engine) -> TestClient:
    app = build_app(Settings(port=0), engine, admin_key=ADMIN_KEY, jwt_secret="jwt")
    return await aiohttp_client(app)


async def hubster_integration(client: TestClient) -> str:
    body = {"name": "h", "kind": "hubster-system", "hubId": "hub-1", "configuration": {}}
    response = await client.post("/integrations", json=body, headers=ADMIN)
    assert response.status == 201
    return str((await response.json())["integrationId"])


async def accepts(client: TestClient, integration_id: str, private_key: str) -> bool:
    """Whether a webhook signed with the key gets past verification (its body is no
    activity, so an accepted signature answers 400 invalid_payload)."""
    body = b"{}"
    headers = {
        "Content-Type": "application/json",
        "x-hubster-signature": signing.hubster.sign(body, private_key),
    }
    response = await client.post(f"/webhooks/{integration_id}", data=body, headers=headers)
    assert response.status in (400, 403), await response.text()
    return response.status == 400


async def issued_key(response: Any) -> str:
    assert response.status == 200, await response.text()
    return str((await response.json())["configuration"]["privateSigningKey"])


async def test_a_slow_body_does_not_overwrite_a_rotation_made_meanwhile(
    aiohttp_client: Any, new_engine: NewEngine
) -> None:
    client = await start(aiohttp_client, await new_engine())
    integration_id = await hubster_integration(client)
    path = f"/integrations/{integration_id}"
    other_done = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield REGENERATE[:5]
        await other_done.wait()
        yield REGENERATE[5:]

    headers = {**ADMIN, "Content-Type": "application/json"}
    slow = asyncio.create_task(client.patch(path, data=slow_body(), headers=headers))
    await asyncio.sleep(0.05)  # let the slow PATCH reach the server and start reading
    fast_key = await issued_key(await client.patch(path, data=REGENERATE, headers=headers))
    other_done.set()
    slow_key = await issued_key(await slow)

    assert await accepts(client, integration_id, slow_key)
    assert await accepts(client, integration_id, fast_key)


async def test_concurrent_rotations_are_serialised(
    aiohttp_client: Any, new_engine: NewEngine
) -> None:
    engine = await new_engine()
    registry = RendezvousRegistry(engine.registry)
    engine.registry = registry  # type: ignore[assignment]
    client = await start(aiohttp_client, engine)
    integration_id = await hubster_integration(client)
    path = f"/integrations/{integration_id}"
    headers = {**ADMIN, "Content-Type": "application/json"}

    registry.armed = True
    responses = await asyncio.gather(
        *(client.patch(path, data=REGENERATE, headers=headers) for _ in range(2))
    )
    registry.armed = False
    keys = [await issued_key(response) for response in responses]

    assert keys[0] != keys[1]
    for key in keys:
        assert await accepts(client, integration_id, key)


async def test_a_patch_in_another_process_never_undoes_a_rotation(
    aiohttp_client: Any, new_engine: NewEngine
) -> None:
    """Process A's PATCH (a rename) reads the record; before it saves, process B
    regenerates the keys. B's key must still work afterwards, and A's rename must land."""
    engine = await new_engine()
    regenerated: list[str] = []

    async def regenerate() -> None:
        response = await other.patch(path, data=REGENERATE, headers=headers)
        regenerated.append(await issued_key(response))

    registry = Interleaving(engine.registry, regenerate)
    engine.registry = registry  # type: ignore[assignment]
    client = await start(aiohttp_client, engine)
    other = await start(aiohttp_client, await new_engine())
    integration_id = await hubster_integration(client)
    path = f"/integrations/{integration_id}"
    headers = {**ADMIN, "Content-Type": "application/json"}

    registry.arm(integration_id)
    response = await client.patch(path, data=orjson.dumps({"name": "renamed"}), headers=headers)
    renamed_key = await issued_key(response)
    assert registry.fired == 1

    assert renamed_key == regenerated[0]
    assert await accepts(client, integration_id, regenerated[0]), "the rename undid the rotation"
    stored = await (await client.get(path, headers=ADMIN)).json()
    assert stored["name"] == "renamed"


async def test_update_of_a_deleted_integration_is_404(
    aiohttp_client: Any, new_engine: NewEngine
) -> None:
    client = await start(aiohttp_client, await new_engine())
    integration_id = await hubster_integration(client)
    path = f"/integrations/{integration_id}"
    assert (await client.delete(path, headers=ADMIN)).status == 204
    response = await client.patch(path, json={"name": "back"}, headers=ADMIN)
    assert response.status == 404
    assert (await client.get(path, headers=ADMIN)).status == 404
