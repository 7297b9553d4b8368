"""Calls made in one turn of the event loop go to Redis as one command: appends in one run
of the append script, redelivery checks in one run of the lookup script, delivery
concludes in one run of the conclude script, registry lookups in one `HMGET`; each call
gets its own answer, or the command's error."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest

from gateway.engine.deliveries import Concluded, Conclusion
from gateway.engine.redis import RedisEngine, RedisOptions, open_redis_engine
from gateway.engine.redis.batching import Batcher
from tests.engine.queue_kit import claim, conclusion, delivery, enqueue
from tests.redis_support import commands_sent, new_event


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every write the engine's connections send from now on (the reader's aside)."""
    return commands_sent(monkeypatch, lambda packed: b"XREAD" not in packed)


async def test_appends_of_one_turn_are_one_script_run_each_answered_alone(
    redis_engine: RedisEngine, sent: list[bytes]
) -> None:
    await redis_engine.events.append([new_event("warm")], 60)
    sent.clear()
    batches = [[new_event(f"k{n}-a"), new_event(f"k{n}-b")] for n in range(20)]
    batches.append([new_event("k3-a"), new_event("new")])  # a redelivery of one, and a new one
    results = await asyncio.gather(*(redis_engine.events.append(batch, 60) for batch in batches))
    assert len(sent) == 1 and b"EVALSHA" in sent[0]
    for batch, result in zip(batches[:20], results[:20], strict=True):
        assert [event.payload for event in result.stored] == [
            b'{"id":"' + event.id.encode() + b'",' + new.body[1:]
            for event, new in zip(result.stored, batch, strict=True)
        ]
    assert (len(results[-1].stored), results[-1].duplicates) == (1, 1)
    ids = [event.id for result in results for event in result.stored]
    assert ids == sorted(ids) and len(set(ids)) == 41  # in the order the calls were made
    assert [e.id for e in await redis_engine.events.read_after("0", 100)][1:] == ids


async def test_redelivery_checks_of_one_turn_are_one_script_run_each_answered_alone(
    redis_engine: RedisEngine, sent: list[bytes]
) -> None:
    """Every webhook asks whether it is a redelivery before it is normalised."""
    await redis_engine.events.append([new_event("k1"), new_event("k3")], 60)
    sent.clear()
    asks = [["k1"], ["k2"], ["k3", "k1"], ["k3", "k4"], ["k5"]]
    found = await asyncio.gather(*(redis_engine.events.seen(keys) for keys in asks))
    assert len(sent) == 1 and b"EVALSHA" in sent[0]
    assert found == [[True], [False], [True, True], [True, False], [False]]


async def _concludes_to_make(engine: RedisEngine) -> list[Conclusion]:
    """Deliveries of two subscribers claimed, and what their attempts decided: a success
    opening the next of its lane, a retry, a dead letter, a success clearing the failures
    the dead letter began, the first success again (no longer held) and a conclude under a
    claim that is not the latest."""
    await enqueue(engine, [delivery(1, lane="c1"), delivery(2, lane="c1"), delivery(3)])
    await enqueue(engine, [delivery(4, "s2"), delivery(5, "s2")])
    first, third = await claim(engine, 1.0)
    fourth, fifth = await claim(engine, 1.0, "s2")
    return [
        conclusion(first, "finish"),
        conclusion(third, "retry", at=2.0, due_at=5.0),
        conclusion(fourth, "dead", at=3.0),
        conclusion(fifth, "finish"),
        conclusion(first, "finish"),
        conclusion(dataclasses.replace(third, claim="an earlier claim"), "dead", at=4.0),
    ]


async def _queue_state(engine: RedisEngine) -> list[Any]:
    queue = engine.deliveries
    return [
        await queue.due_subscribers(10.0),
        await claim(engine, 10.0),  # the lane's next, and the retry with its attempt
        await claim(engine, 10.0, "s2"),
        [(d.event_id, d.record) for d in await queue.dead_letters("s2", "", 10)],
        await queue.attempts("s1"),
        await queue.attempts("s2"),
        dataclasses.replace(await queue.stats(10.0), oldest_due_seconds=0.0),
    ]


async def test_concludes_of_one_turn_are_one_script_run_each_applied_as_alone(
    redis_engine: RedisEngine, redis_options: RedisOptions, sent: list[bytes]
) -> None:
    """Every delivery attempt ends in a conclude: those of one turn of the loop go out in
    one run of the conclude script, and each is applied, in the order they were made, as it
    would be alone (compared with the same concludes made one at a time)."""
    apart = dataclasses.replace(redis_options, key_prefix=redis_options.key_prefix + "-apart")
    alone = await open_redis_engine(apart)
    try:
        singly = [await alone.deliveries.conclude(c) for c in await _concludes_to_make(alone)]
        expected = await _queue_state(alone)
    finally:
        await alone.close()
    batch = await _concludes_to_make(redis_engine)
    sent.clear()
    together = await asyncio.gather(*(redis_engine.deliveries.conclude(c) for c in batch))
    assert len(sent) == 1 and b"EVALSHA" in sent[0]
    assert (
        together
        == singly
        == [
            Concluded(applied=True, failing_since=None),
            Concluded(applied=True, failing_since=2.0),
            Concluded(applied=True, failing_since=3.0),
            Concluded(applied=True, failing_since=None),
            Concluded(applied=False, failing_since=None),
            Concluded(applied=False, failing_since=None),
        ]
    )
    state = await _queue_state(redis_engine)
    assert state == expected
    assert [(d.event_id, d.attempts) for d in state[1]] == [
        (delivery(2).event_id, 0), (delivery(3).event_id, 1)
    ]  # fmt: skip
    assert [event_id for event_id, _ in state[3]] == [delivery(4).event_id]


async def test_lookups_of_one_turn_are_one_hmget_each_answered_alone(
    redis_engine: RedisEngine, sent: list[bytes]
) -> None:
    registry = redis_engine.registry
    for n in range(3):
        await registry.create("things", f"t{n}", {"n": n})
    sent.clear()
    ids = ["t0", "t1", "t2", "t1", "missing"]
    found = await asyncio.gather(*(registry.get("things", record_id) for record_id in ids))
    assert len(sent) == 1 and b"HMGET" in sent[0]
    assert [None if f is None else f.record for f in found] == [
        {"n": 0}, {"n": 1}, {"n": 2}, {"n": 1}, None
    ]  # fmt: skip
    assert found[1] is not None and found[3] is not None and found[1].record is not found[3].record
    await registry.replace("things", "t1", {"n": 10}, found[1].version)
    again = await registry.get("things", "t1")  # made after the change: sees it
    assert again is not None and again.record == {"n": 10}


async def test_a_batch_fails_for_every_call_in_it_and_a_cancelled_call_leaves_the_rest() -> None:
    calls: list[list[int]] = []
    failing = False

    async def send(items: list[int]) -> Sequence[int]:
        calls.append(list(items))
        await asyncio.sleep(0.01)
        if failing:
            raise ConnectionError("gone")
        return [item * 10 for item in items]

    batcher: Batcher[int, int] = Batcher(send, max_items=4)
    answers = await asyncio.gather(*(batcher.call([n, n + 100]) for n in range(3)))
    assert answers == [[0, 1000], [10, 1010], [20, 1020]]
    assert [len(items) for items in calls] == [4, 2]  # at most 4 a batch

    calls.clear()
    tasks = [asyncio.create_task(batcher.call([n])) for n in range(3)]
    await asyncio.sleep(0)
    tasks[1].cancel()
    assert [await tasks[0], await tasks[2]] == [[0], [20]]
    assert calls == [[0, 1, 2]]  # already sent with the batch: it ran

    failing = True
    results = await asyncio.gather(*(batcher.call([n]) for n in range(3)), return_exceptions=True)
    assert all(isinstance(result, ConnectionError) for result in results)
