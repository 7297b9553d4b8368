"""The webhook route's integrations (`IntegrationCache`), on every engine: a change made
through this process applies to the next lookup; one made through another process applies
within the check interval, and not by luck before it is looked for; ids that name no
integration are never remembered."""

from __future__ import annotations

import uuid

from gateway.integrations.lifecycle import new_integration
from gateway.integrations.model import PAUSED, Integration, IntegrationCreate
from gateway.integrations.store import CHECK_SECONDS, IntegrationCache, IntegrationStore
from tests.conftest import NewEngine


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _integration() -> Integration:
    body = IntegrationCreate.model_validate({"name": "n", "kind": "standard", "hubId": "h"})
    return new_integration(body, str(uuid.uuid4()), 1_700_000_000_000)


async def _integration_of(cache: IntegrationCache, integration_id: str) -> Integration | None:
    cached = await cache.get(integration_id)
    return None if cached is None else cached.integration


def _paused(integration: Integration) -> Integration:
    return integration.model_copy(update={"status_id": PAUSED})


async def test_a_change_made_here_applies_to_the_next_lookup(new_engine: NewEngine) -> None:
    engine = await new_engine()
    clock = Clock()
    cache = IntegrationCache(engine.registry, clock=clock)
    store = IntegrationStore(engine.registry, cache)
    integration = await store.create(_integration())
    assert await _integration_of(cache, integration.integration_id) == integration
    await store.update(integration.integration_id, _paused)
    found = await _integration_of(cache, integration.integration_id)
    assert found is not None and found.status_id == PAUSED
    await store.delete(integration.integration_id)
    assert await cache.get(integration.integration_id) is None


async def test_a_change_made_elsewhere_applies_within_the_interval(new_engine: NewEngine) -> None:
    here, elsewhere = await new_engine(), await new_engine()
    clock = Clock()
    cache = IntegrationCache(here.registry, clock=clock)
    integration = await IntegrationStore(here.registry, cache).create(_integration())
    assert await _integration_of(cache, integration.integration_id) == integration
    other_process = IntegrationStore(elsewhere.registry)
    await other_process.update(integration.integration_id, _paused)

    clock.now += CHECK_SECONDS / 2
    assert await _integration_of(cache, integration.integration_id) == integration  # the copy
    clock.now += CHECK_SECONDS / 2
    found = await _integration_of(cache, integration.integration_id)
    assert found is not None and found.status_id == PAUSED

    await other_process.delete(integration.integration_id)
    clock.now += CHECK_SECONDS
    assert await cache.get(integration.integration_id) is None


async def test_ids_naming_no_integration_are_never_remembered(new_engine: NewEngine) -> None:
    here, elsewhere = await new_engine(), await new_engine()
    cache = IntegrationCache(here.registry, clock=Clock())  # the clock never moves
    integration = _integration()
    assert await cache.get(integration.integration_id) is None
    await IntegrationStore(elsewhere.registry).create(integration)
    assert await _integration_of(cache, integration.integration_id) == integration


async def test_kept_credentials_change_when_a_grace_ends(new_engine: NewEngine) -> None:
    engine = await new_engine()
    cache = IntegrationCache(engine.registry, clock=Clock())
    rotated_at = 1_700_000_100_000
    integration = _integration()
    old = integration.credentials.current["secret"]
    rotated = integration.credentials.rotated({"secret": "whsec_" + "A" * 43}, rotated_at, 60, 3)
    await IntegrationStore(engine.registry, cache).create(
        integration.model_copy(update={"credentials": rotated})
    )
    cached = await cache.get(integration.integration_id)
    assert cached is not None
    grace_end = rotated_at + 60_000
    assert old in cached.credentials(grace_end - 1).values("secret")
    assert cached.credentials(grace_end - 1) is cached.credentials(grace_end - 1)  # kept
    assert old not in cached.credentials(grace_end).values("secret")
    assert cached.credentials(grace_end).values("secret") == ("whsec_" + "A" * 43,)
