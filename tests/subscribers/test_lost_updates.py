"""A subscriber PATCH reads the record, then awaits its body and the URL's DNS check, then
saves: a rotation completed in that window — by this process or another sharing the
engine — must survive the save. The interleaving is forced at the registry boundary. A
PATCH that loses the compare-and-set on every try answers 503 and asks for a retry."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.engine.registry import UPDATE_ATTEMPTS, RegistryConflict
from tests.conftest import NewEngine
from tests.delivery.support import AUTH
from tests.engine.faults import Faults
from tests.engine.interleaving import Interleaving


@pytest.mark.parametrize(
    "on_read", [1, 2], ids=["rotated-before-the-body", "rotated-before-the-save"]
)
async def test_a_patch_never_undoes_a_rotation_made_while_it_worked(
    make_gateway: Any, new_engine: NewEngine, on_read: int
) -> None:
    """On Redis the rotation comes from a second engine over the same data (another
    process), so the compare-and-set under test is the Redis script's."""
    engine = await new_engine()
    rotated: dict[str, Any] = {}

    async def rotate() -> None:
        response = await other.client.post(f"/subscribers/{subscriber_id}/rotate", headers=AUTH)
        assert response.status == 200
        rotated.update(await response.json())

    registry = Interleaving(engine.registry, rotate)
    engine.registry = registry  # type: ignore[assignment]
    first = await make_gateway(engine=engine)
    other = await make_gateway(engine=await new_engine())
    created = await first.create_subscriber(url="https://hooks.example.com/a", events=["message"])
    subscriber_id = created["subscriberId"]

    registry.arm(subscriber_id, on_read=on_read)
    patch = {"url": "https://hooks.example.com/b", "description": "moved"}
    response = await first.client.patch(f"/subscribers/{subscriber_id}", json=patch, headers=AUTH)
    assert response.status == 200, await response.text()
    assert registry.fired == 1, "the rotation did not land inside the PATCH's window"

    stored = await first.subscriber(subscriber_id)
    assert rotated["secret"] != created["secret"]
    assert stored["secret"] == rotated["secret"], "the PATCH undid the rotation"
    assert stored["previousSecretExpiresAt"] is not None
    assert (stored["url"], stored["description"]) == (patch["url"], "moved")
    assert (await response.json())["secret"] == rotated["secret"]


async def test_a_patch_losing_every_compare_and_set_answers_503_with_retry_after(
    make_gateway: Any, new_engine: NewEngine
) -> None:
    engine = await new_engine()
    registry = Faults(engine.registry)
    engine.registry = registry
    gateway = await make_gateway(engine=engine)
    created = await gateway.create_subscriber(url="https://hooks.example.com/a", events=["*"])
    path = f"/subscribers/{created['subscriberId']}"

    registry.fail("replace", RegistryConflict("raced"), UPDATE_ATTEMPTS)
    response = await gateway.client.patch(path, json={"description": "x"}, headers=AUTH)
    assert response.status == 503, await response.text()
    assert (await response.json())["error"]["code"] == "unavailable"
    assert response.headers["Retry-After"] == str(RegistryConflict.RETRY_AFTER_SECONDS)
    assert registry.failed["replace"] == UPDATE_ATTEMPTS

    response = await gateway.client.patch(path, json={"description": "x"}, headers=AUTH)
    assert response.status == 200  # the retry the answer asked for
    assert (await gateway.subscriber(created["subscriberId"]))["description"] == "x"
