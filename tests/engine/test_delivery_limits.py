"""Delivery queue conformance, its limits: deliveries in flight and the rate across every
process, parking, the per-subscriber byte caps — and the races each must survive."""

from __future__ import annotations

import asyncio

import pytest

from gateway.engine.base import Engine
from gateway.engine.deliveries import (
    OVERFLOW_ERROR,
    CursorConflict,
    CursorMove,
    QueuedDelivery,
    QueueLimits,
)
from tests.engine.conftest import EngineFactory
from tests.engine.queue_kit import (
    LEASE,
    claim,
    conclusion,
    delivery,
    enqueue,
    event_id,
    event_ids,
    pending,
)


async def test_in_flight_is_capped_across_processes(make_engine: EngineFactory) -> None:
    first, second = await make_engine(), await make_engine()
    await enqueue(first, [delivery(n) for n in range(12)])
    assert len(await claim(first, 1.0, max_in_flight=3)) == 3
    assert await claim(second, 1.0, max_in_flight=3) == []
    assert await claim(second, 1.0, max_in_flight=4) != []
    held = await claim(first, 2.0, max_in_flight=10)
    assert len(held) == 6
    await first.deliveries.conclude(conclusion(held[0], "finish"))
    assert len(await claim(second, 3.0, max_in_flight=10)) == 1
    # leases that ran out no longer count (the deliveries are visible again instead): at
    # 2 + LEASE only the one claimed at 3.0 is still in flight
    assert len(await claim(second, 2.0 + LEASE, max_in_flight=4)) == 3


async def test_the_rate_bucket_holds_one_seconds_worth(make_engine: EngineFactory) -> None:
    first, second = await make_engine(), await make_engine()
    await enqueue(first, [delivery(n) for n in range(20)])
    assert len(await claim(first, 100.0, rate=2.0)) == 2
    assert await claim(second, 100.2, rate=2.0) == []
    assert len(await claim(second, 100.5, rate=2.0)) == 1
    assert len(await claim(first, 110.0, rate=2.0)) == 2  # never more than a second's worth
    await enqueue(first, [delivery(n, subscriber="slow") for n in range(5)])
    assert len(await claim(first, 100.0, "slow", rate=0.5)) == 1  # at least one token
    assert await claim(first, 101.0, "slow", rate=0.5) == []
    assert len(await claim(first, 102.0, "slow", rate=0.5)) == 1
    assert len(await claim(first, 102.0, "s1", limit=20)) == 15  # no rate: no bucket


async def test_a_parked_subscriber_keeps_its_deliveries_but_is_never_due(engine: Engine) -> None:
    queue = engine.deliveries
    await enqueue(engine, [delivery(1), delivery(2)], due_at=0.0)
    [first] = await claim(engine, 1.0, limit=1)
    concluded = await queue.conclude(conclusion(first, "retry", at=1.0, due_at=500.0))
    assert concluded.failing_since == 1.0
    await queue.park("s1")
    await enqueue(engine, [delivery(3)], due_at=2.0)
    assert await queue.due_subscribers(1000.0) == []
    assert await claim(engine, 1000.0) == []
    stats = await queue.stats(1000.0)
    assert (stats.depth, stats.oldest_due_seconds) == (3, 0.0)

    await queue.unpark("s1", 10.0)
    assert await queue.due_subscribers(10.0) == ["s1"]
    assert await queue.due_subscribers(9.9) == []
    assert sorted(event_ids(await claim(engine, 10.0))) == [event_id(n) for n in (1, 2, 3)]
    again = await queue.conclude(conclusion(first, "retry", at=11.0, due_at=20.0))
    assert again.failing_since == 11.0  # unparking ended the earlier run of failures


async def test_parked_lists_the_parked_subscribers_until_unparked_or_dropped(
    engine: Engine,
) -> None:
    queue = engine.deliveries
    assert await queue.parked() == []
    await enqueue(engine, [delivery(1), delivery(1, "s2"), delivery(1, "s3")])
    await queue.park("s1")
    await queue.park("s2")
    await queue.park("idle")  # parking needs no deliveries held
    await queue.park("s1")
    assert sorted(await queue.parked()) == ["idle", "s1", "s2"]
    await queue.unpark("s1", 1.0)
    await queue.drop_subscriber("s2")
    assert sorted(await queue.parked()) == ["idle"]
    assert sorted(await queue.due_subscribers(1.0)) == ["s1", "s3"]


async def test_past_the_queued_cap_the_oldest_unclaimed_delivery_dies(
    make_engine: EngineFactory,
) -> None:
    engine = await make_engine(QueueLimits(max_queued_bytes=300))
    queue = engine.deliveries
    await enqueue(engine, [delivery(n, size=100) for n in (1, 2, 3)], due_at=0.0)
    [in_flight] = await claim(engine, 1.0, limit=1)
    assert in_flight.event_id == event_id(1)
    await enqueue(engine, [delivery(4, size=150)], due_at=3.0)  # 450 bytes: two must go
    assert sorted(event_ids(await claim(engine, 3.0))) == [event_id(4)]
    dead = await queue.dead_letters("s1", "", 10)
    assert [letter.event_id for letter in dead] == [event_id(2), event_id(3)]
    assert dead[0].record["status"] == "dead"
    assert dead[0].record["error"] == OVERFLOW_ERROR
    assert dead[0].record["nextAttemptAt"] is None
    records = {(r["eventId"], r["attempt"]): r for r in await queue.attempts("s1")}
    assert records[(event_id(2), 1)] == dead[0].record  # its pending record, now dead
    stats = await queue.stats(3.0)
    assert (stats.depth, stats.queued_bytes, stats.dead_bytes) == (2, 250, 200)
    assert stats.overflowed_total == 2
    assert (await queue.conclude(conclusion(in_flight, "finish"))).applied


async def test_past_the_dead_caps_the_oldest_letters_go(make_engine: EngineFactory) -> None:
    engine = await make_engine(QueueLimits(max_dead_bytes=350, max_dead_letters=3))
    queue = engine.deliveries
    await enqueue(engine, [delivery(n, size=100) for n in (5, 1, 4, 2)])
    for item in await claim(engine, 1.0):
        await queue.conclude(conclusion(item, "dead", at=1.0))
    letters = await queue.dead_letters("s1", "", 10)
    assert [letter.event_id for letter in letters] == [event_id(n) for n in (2, 4, 5)]
    await enqueue(engine, [delivery(6, size=200)])
    [big] = await claim(engine, 2.0)
    await queue.conclude(conclusion(big, "dead", at=2.0))
    letters = await queue.dead_letters("s1", "", 10)
    assert [letter.event_id for letter in letters] == [event_id(5), event_id(6)]
    stats = await queue.stats(3.0)
    assert (stats.dead_bytes, stats.dead_dropped_total, stats.overflowed_total) == (300, 3, 0)


async def test_two_claimers_never_take_the_same_delivery(
    make_racing_engine: EngineFactory,
) -> None:
    first, second = await make_racing_engine(), await make_racing_engine()
    await enqueue(first, [delivery(n) for n in range(40)])
    rounds = await asyncio.gather(*(claim(engine, 1.0, limit=7) for engine in (first, second) * 3))
    claimed = [item.id for got in rounds for item in got]
    assert len(claimed) == 40
    assert len(set(claimed)) == len(claimed)


async def test_two_claimers_together_stay_within_the_in_flight_cap(
    make_racing_engine: EngineFactory,
) -> None:
    first, second = await make_racing_engine(), await make_racing_engine()
    await enqueue(first, [delivery(n) for n in range(40)])
    in_flight: list[QueuedDelivery] = []
    for now in range(1, 7):
        rounds = await asyncio.gather(
            *(claim(engine, now, limit=3, max_in_flight=4) for engine in (first, second) * 2)
        )
        in_flight.extend(item for got in rounds for item in got)
        assert len(in_flight) <= 4
        for item in in_flight[:2]:
            await first.deliveries.conclude(conclusion(item, "finish"))
        del in_flight[:2]


async def test_two_claimers_on_one_lane_lease_only_its_head_in_order(
    make_racing_engine: EngineFactory,
) -> None:
    """Two processes claiming one ordered lane at once: at most its head is leased at any
    time, never twice, and the lane goes out in event order (a retry keeps its place)."""
    first, second = await make_racing_engine(), await make_racing_engine()
    lane = "s1/conversation-a"
    await enqueue(first, [delivery(n, lane=lane) for n in range(8)])
    order: list[str] = []
    retried = False
    for now in range(1, 40):
        rounds = await asyncio.gather(*(claim(engine, now, limit=5) for engine in (first, second)))
        claimed = [item for got in rounds for item in got]
        assert len(claimed) <= 1, [item.event_id for item in claimed]
        for item in claimed:
            order.append(item.event_id)
            outcome = "retry" if item.event_id == event_id(3) and not retried else "finish"
            retried = retried or outcome == "retry"
            await first.deliveries.conclude(conclusion(item, outcome, at=now, due_at=now))
        if len(set(order)) == 8:
            break
    assert order == [event_id(n) for n in (0, 1, 2, 3, 3, 4, 5, 6, 7)]


async def test_two_claimers_share_one_rate(make_racing_engine: EngineFactory) -> None:
    first, second = await make_racing_engine(), await make_racing_engine()
    await enqueue(first, [delivery(n) for n in range(40)])
    claimed: list[QueuedDelivery] = []
    for tick in range(10):  # one second in steps of a tenth
        rounds = await asyncio.gather(
            *(claim(engine, 100.0 + tick / 10, rate=5.0) for engine in (first, second))
        )
        claimed.extend(item for got in rounds for item in got)
    assert 5 <= len(claimed) <= 9  # the full bucket, then 0.9 s of refill


async def test_of_two_enqueuers_moving_one_cursor_one_wins(
    make_racing_engine: EngineFactory,
) -> None:
    first, second = await make_racing_engine(), await make_racing_engine()
    await enqueue(first, [], move=CursorMove("reader", None, "c0"))
    move = CursorMove("reader", "c0", "c1")
    results = await asyncio.gather(
        enqueue(first, [delivery(1, suffix="/a")], move=move),
        enqueue(second, [delivery(1, suffix="/b")], move=move),
        return_exceptions=True,
    )
    assert sorted(type(result).__name__ for result in results) == ["CursorConflict", "int"]
    assert (await first.deliveries.stats(0.0)).depth == 1
    assert len(await first.deliveries.attempts("s1")) == 1


async def test_enqueuers_following_one_cursor_enqueue_each_event_once(
    make_racing_engine: EngineFactory,
) -> None:
    """Two readers of one log, as the enqueuer loop reads it: each plans from where the
    cursor is, and starts over from the stored cursor when it lost the race."""
    engines = [await make_racing_engine(), await make_racing_engine()]
    events = [event_id(n) for n in range(60)]
    await enqueue(engines[0], [], move=CursorMove("reader", None, "start"))

    async def reader(engine: Engine, name: str) -> None:
        while True:
            cursor = await engine.deliveries.cursor("reader")
            done = 0 if cursor == "start" else events.index(str(cursor)) + 1
            batch = events[done : done + 5]
            if not batch:
                return
            planned = [
                QueuedDelivery(f"s1/{e}/{name}", "s1", e, b"{}") for e in batch
            ]  # distinct ids per reader: only the cursor can keep them from doubling
            try:
                await engine.deliveries.enqueue(
                    planned,
                    0.0,
                    [pending(d) for d in planned],
                    CursorMove("reader", cursor, batch[-1]),
                )
            except CursorConflict:
                continue

    await asyncio.gather(reader(engines[0], "a"), reader(engines[1], "b"))
    claimed = await claim(engines[0], 1.0, limit=1000)
    assert sorted(event_ids(claimed)) == events


@pytest.mark.parametrize("outcome", ["finish", "dead"])
async def test_a_conclusion_frees_its_in_flight_slot(engine: Engine, outcome: str) -> None:
    await enqueue(engine, [delivery(1), delivery(2)])
    [first] = await claim(engine, 1.0, max_in_flight=1)
    assert await claim(engine, 1.0, max_in_flight=1) == []
    await engine.deliveries.conclude(conclusion(first, outcome, at=1.0))  # type: ignore[arg-type]
    assert event_ids(await claim(engine, 1.0, max_in_flight=1)) == [event_id(2)]
