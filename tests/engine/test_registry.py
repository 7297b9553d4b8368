"""Registry conformance: versioned records, create-if-absent, compare-and-set, the change
counter, and `update` retrying on conflict."""

from __future__ import annotations

import asyncio

import pytest

from gateway.engine.base import Engine
from gateway.engine.registry import (
    UPDATE_ATTEMPTS,
    Record,
    RegistryConflict,
    Versioned,
    update,
)
from tests.engine.conftest import EngineFactory
from tests.engine.interleaving import Interleaving


async def test_create_stores_version_one_and_never_overwrites(engine: Engine) -> None:
    registry = engine.registry
    created, mine = await registry.create("thing", "t1", {"n": 1})
    assert (created, mine) == (Versioned({"n": 1}, 1), True)
    again, mine = await registry.create("thing", "t1", {"n": 2})
    assert (again, mine) == (Versioned({"n": 1}, 1), False)
    assert await registry.get("thing", "t1") == Versioned({"n": 1}, 1)
    assert await registry.get("other-kind", "t1") is None


async def test_records_are_copies(engine: Engine) -> None:
    registry = engine.registry
    await registry.create("thing", "t1", {"list": [1]})
    found = await registry.get("thing", "t1")
    assert found is not None
    found.record["list"].append(2)
    assert (await registry.get("thing", "t1")) == Versioned({"list": [1]}, 1)


async def test_replace_is_a_compare_and_set(engine: Engine) -> None:
    registry = engine.registry
    await registry.create("thing", "t1", {"n": 1})
    assert await registry.replace("thing", "t1", {"n": 2}, 1) == Versioned({"n": 2}, 2)
    with pytest.raises(RegistryConflict):
        await registry.replace("thing", "t1", {"n": 3}, 1)
    assert await registry.get("thing", "t1") == Versioned({"n": 2}, 2)
    with pytest.raises(RegistryConflict):
        await registry.replace("thing", "missing", {"n": 1}, 1)
    assert await registry.get("thing", "missing") is None


async def test_list_in_creation_order_and_delete(engine: Engine) -> None:
    registry = engine.registry
    for name in ("b", "a", "c"):
        await registry.create("thing", name, {"name": name})
    await registry.create("other", "x", {"name": "x"})
    await registry.replace("thing", "b", {"name": "b2"}, 1)
    listed = await registry.list("thing")
    assert [item.record["name"] for item in listed] == ["b2", "a", "c"]
    assert [item.version for item in listed] == [2, 1, 1]
    assert await registry.delete("thing", "a") is True
    assert await registry.delete("thing", "a") is False
    assert [item.record["name"] for item in await registry.list("thing")] == ["b2", "c"]
    assert await registry.list("nothing") == []


async def test_changes_move_on_every_write_of_the_kind_in_every_process(
    make_engine: EngineFactory,
) -> None:
    first, second = await make_engine(), await make_engine()
    seen = [await first.registry.changes("thing")]
    await first.registry.create("thing", "t1", {})
    seen.append(await second.registry.changes("thing"))
    await second.registry.replace("thing", "t1", {"n": 1}, 1)
    seen.append(await first.registry.changes("thing"))
    other_kind = await first.registry.changes("other")
    await first.registry.create("other", "o1", {})
    seen.append(await second.registry.changes("thing"))
    assert await first.registry.changes("other") != other_kind
    await second.registry.delete("thing", "t1")
    seen.append(await first.registry.changes("thing"))
    assert seen[0] < seen[1] < seen[2] == seen[3] < seen[4]


def _bump(record: Record) -> Record:
    return {**record, "n": record["n"] + 1}


async def test_update_applies_a_change_or_nothing(engine: Engine) -> None:
    registry = engine.registry
    assert await update(registry, "thing", "missing", _bump) is None
    await registry.create("thing", "t1", {"n": 1})
    assert await update(registry, "thing", "t1", _bump) == Versioned({"n": 2}, 2)
    assert await update(registry, "thing", "t1", lambda record: None) == Versioned({"n": 2}, 2)

    def refuse(record: Record) -> Record:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await update(registry, "thing", "t1", refuse)
    assert await registry.get("thing", "t1") == Versioned({"n": 2}, 2)


async def test_update_retries_after_a_conflicting_write(engine: Engine) -> None:
    await engine.registry.create("thing", "t1", {"n": 1, "tags": []})

    async def competing() -> None:
        await update(engine.registry, "thing", "t1", lambda r: {**r, "tags": ["rotated"]})

    racing = Interleaving(engine.registry, competing)
    racing.arm("t1")
    calls = []

    def change(record: Record) -> Record:
        calls.append(dict(record))
        return _bump(record)

    result = await update(racing, "thing", "t1", change)  # type: ignore[arg-type]
    assert result == Versioned({"n": 2, "tags": ["rotated"]}, 3)
    assert calls == [{"n": 1, "tags": []}, {"n": 1, "tags": ["rotated"]}]


async def test_update_gives_up_when_the_record_never_settles(engine: Engine) -> None:
    await engine.registry.create("thing", "t1", {"n": 0})

    async def competing() -> None:
        await update(engine.registry, "thing", "t1", _bump)

    racing = Interleaving(engine.registry, competing)
    racing.arm("t1", times=UPDATE_ATTEMPTS)
    with pytest.raises(RegistryConflict):
        await update(racing, "thing", "t1", lambda r: {**r, "mine": True})  # type: ignore[arg-type]
    current = await engine.registry.get("thing", "t1")
    assert current is not None and "mine" not in current.record


async def test_concurrent_updates_all_land(make_racing_engine: EngineFactory) -> None:
    first, second = await make_racing_engine(), await make_racing_engine()
    await first.registry.create("thing", "t1", {"n": 0})
    await asyncio.gather(
        *(update(engine.registry, "thing", "t1", _bump) for engine in [first, second] * 10)
    )
    assert await first.registry.get("thing", "t1") == Versioned({"n": 20}, 21)


async def test_of_concurrent_creates_exactly_one_wins(make_racing_engine: EngineFactory) -> None:
    first, second = await make_racing_engine(), await make_racing_engine()
    results = await asyncio.gather(
        *(
            engine.registry.create("thing", "t1", {"creator": index})
            for index, engine in enumerate([first, second] * 5)
        )
    )
    winners = [stored for stored, mine in results if mine]
    assert len(winners) == 1
    assert all(stored == winners[0] for stored, _ in results)
    assert await first.registry.get("thing", "t1") == winners[0]
