"""Delivery queue conformance, the life of a delivery: enqueue with its pending record and
cursor, claim under a lease that can run out, lanes, `conclude` as one step, release, dead
letters, the attempt log, dropping a subscriber, and the queue's stats."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.engine.base import Engine
from gateway.engine.deliveries import CursorConflict, CursorMove, QueueLimits
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


async def test_claim_leases_and_an_expired_lease_shows_the_delivery_again(
    make_engine: EngineFactory,
) -> None:
    first, second = await make_engine(), await make_engine()
    assert await enqueue(first, [delivery(1), delivery(2)], due_at=100.0) == 2
    assert await first.deliveries.due_subscribers(99.0) == []
    assert await second.deliveries.due_subscribers(100.0) == ["s1"]

    assert event_ids(await claim(first, 100.0, limit=1)) == [event_id(1)]
    assert event_ids(await claim(second, 100.0)) == [event_id(2)]
    assert await first.deliveries.due_subscribers(100.0 + LEASE - 0.1) == []
    assert await claim(second, 100.0 + LEASE - 0.1) == []
    taken_over = await claim(second, 100.0 + LEASE)
    assert sorted(event_ids(taken_over)) == [event_id(1), event_id(2)]
    assert (await first.deliveries.stats(200.0)).depth == 2


async def test_a_holder_whose_lease_was_taken_over_can_no_longer_change_the_delivery(
    make_engine: EngineFactory,
) -> None:
    """A process whose lease ran out (it stalled, or its clock lags) and whose delivery
    another process claimed since: its `finish`, `retry`, `dead` and `release` are not
    applied, so the new holder keeps its lease (the in-flight cap holds) and the ordered
    lane does not move on while its head is still being sent."""
    stale_process, new_process = await make_engine(), await make_engine()
    await enqueue(stale_process, [delivery(1, lane="c1"), delivery(2, lane="c1"), delivery(3)])
    stale = {item.event_id: item for item in await claim(stale_process, 1.0)}
    assert sorted(stale) == [event_id(1), event_id(3)]
    taken = {item.event_id: item for item in await claim(new_process, 1.0 + LEASE)}
    assert sorted(taken) == [event_id(1), event_id(3)]

    queue = stale_process.deliveries
    for outcome in ("finish", "dead", "retry"):
        late = conclusion(stale[event_id(1)], outcome, at=2.0, due_at=2.0 + LEASE)
        assert (await queue.conclude(late)).applied is False
    await queue.release(list(stale.values()), now=2.0 + LEASE)
    assert await claim(new_process, 2.0 + LEASE) == []  # no lane head, no lease freed
    assert await claim(new_process, 2.0 + LEASE, max_in_flight=2) == []
    assert (await queue.stats(0.0)).depth == 3
    assert await queue.dead_letters("s1", "", 10) == []

    assert (await new_process.deliveries.conclude(conclusion(taken[event_id(1)], "finish"))).applied
    assert event_ids(await claim(new_process, 3.0 + LEASE)) == [event_id(2)]
    await new_process.deliveries.release([taken[event_id(3)]], now=3.0 + LEASE)
    assert event_ids(await claim(new_process, 3.0 + LEASE)) == [event_id(3)]
    # a released claim is over: its holder cannot conclude the delivery either
    assert (await queue.conclude(conclusion(taken[event_id(3)], "finish"))).applied is False


async def test_enqueue_writes_pending_records_and_skips_known_ids(engine: Engine) -> None:
    queue = engine.deliveries
    one, two = delivery(1), delivery(2)
    assert await enqueue(engine, [one]) == 1
    await queue.conclude(conclusion(one, "retry", due_at=5.0))
    assert await queue.enqueue([one, two], 0.0, [{"late": True}, pending(two)]) == 1
    records = await queue.attempts("s1")
    assert records == [pending(two), {"eventId": event_id(1), "attempt": 1, "status": "failed"}]


async def test_enqueue_moves_its_cursor_with_the_batch(engine: Engine) -> None:
    queue = engine.deliveries
    assert await queue.cursor("reader") is None
    assert await enqueue(engine, [delivery(1)], move=CursorMove("reader", None, "c1")) == 1
    assert (
        await enqueue(engine, [delivery(1), delivery(2)], move=CursorMove("reader", "c1", "c2"))
        == 1
    )
    assert await queue.cursor("reader") == "c2"
    with pytest.raises(CursorConflict):
        await enqueue(engine, [delivery(3)], move=CursorMove("reader", "c1", "c3"))
    assert await queue.cursor("reader") == "c2"
    assert (await queue.stats(0.0)).depth == 2
    assert await queue.attempts("s1") == [pending(delivery(2)), pending(delivery(1))]


async def test_retry_release_and_finish(engine: Engine) -> None:
    queue = engine.deliveries
    await enqueue(engine, [delivery(1)])
    [claimed] = await claim(engine, 10.0)
    applied = await queue.conclude(conclusion(claimed, "retry", at=10.0, due_at=20.0))
    assert (applied.applied, applied.failing_since) == (True, 10.0)
    assert await claim(engine, 19.0) == []
    [again] = await claim(engine, 20.0)
    assert again.attempts == 1
    await queue.release([again], now=21.0)
    [released] = await claim(engine, 21.0)
    assert released.attempts == 1
    done = await queue.conclude(conclusion(released, "finish"))
    assert (done.applied, done.failing_since) == (True, None)
    assert (await queue.stats(1000.0)).depth == 0
    assert await queue.due_subscribers(1000.0) == []
    late = await queue.conclude(conclusion(released, "retry", due_at=30.0))
    assert late.applied is False
    assert (await queue.stats(1000.0)).depth == 0


async def test_a_run_of_failures_starts_at_the_first_and_ends_with_a_success(
    engine: Engine,
) -> None:
    queue = engine.deliveries
    await enqueue(engine, [delivery(n) for n in range(3)])
    first, second, third = await claim(engine, 1.0)
    assert (
        await queue.conclude(conclusion(first, "retry", at=5.0, due_at=9.0))
    ).failing_since == 5.0
    assert (await queue.conclude(conclusion(second, "dead", at=7.0))).failing_since == 5.0
    assert (await queue.conclude(conclusion(third, "finish"))).failing_since is None
    [first] = await claim(engine, 10.0)
    assert (
        await queue.conclude(conclusion(first, "retry", at=11.0, due_at=99.0))
    ).failing_since == 11.0


async def test_a_lane_shows_only_its_head_and_keeps_event_order(engine: Engine) -> None:
    lane = "s1/conversation-a"
    await enqueue(engine, [delivery(1, lane=lane), delivery(3, lane=lane)])
    await enqueue(engine, [delivery(2, lane=lane), delivery(9)])
    order = []
    while (await engine.deliveries.stats(1.0)).depth:
        claimed = await claim(engine, 1.0)
        assert len([item for item in claimed if item.lane]) <= 1
        for item in claimed:
            order.append(item.event_id)
            await engine.deliveries.conclude(conclusion(item, "finish"))
    assert [n for n in order if n != event_id(9)] == [event_id(n) for n in (1, 2, 3)]


async def test_a_lane_waits_for_its_head_to_conclude_not_for_its_lease(engine: Engine) -> None:
    lane = "s1/c"
    await enqueue(engine, [delivery(1, lane=lane), delivery(2, lane=lane)], due_at=0.0)
    [head] = await claim(engine, 1.0)
    assert await claim(engine, 2.0) == []
    await engine.deliveries.conclude(conclusion(head, "retry", at=2.0, due_at=50.0))
    assert await claim(engine, 10.0) == []  # the head waits for its retry; so does the lane
    [head] = await claim(engine, 50.0)
    assert head.event_id == event_id(1)
    await engine.deliveries.conclude(conclusion(head, "dead", at=51.0))
    assert event_ids(await claim(engine, 51.0)) == [event_id(2)]


async def test_dead_letters_are_kept_replaced_resolved_and_read_in_order(engine: Engine) -> None:
    queue = engine.deliveries
    items = [delivery(n) for n in (5, 1, 4, 2, 3)]
    await enqueue(engine, items)
    for item in await claim(engine, 1.0):
        await queue.conclude(conclusion(item, "dead", at=1.0))
    letters = await queue.dead_letters("s1", "", 10)
    assert [letter.event_id for letter in letters] == [event_id(n) for n in range(1, 6)]
    assert letters[0].payload == delivery(1).payload
    assert letters[0].record == {"eventId": event_id(1), "attempt": 1, "status": "dead"}
    page = await queue.dead_letters("s1", event_id(2), 2)
    assert [letter.event_id for letter in page] == [event_id(3), event_id(4)]

    replay = delivery(4, suffix="/replay-a")
    again = delivery(3, suffix="/replay-b")
    await enqueue(engine, [replay, again])
    for item in await claim(engine, 2.0):
        outcome = "finish" if item.id == replay.id else "dead"
        await queue.conclude(replace(conclusion(item, outcome, at=2.0), record={"second": True}))
    letters = await queue.dead_letters("s1", "", 10)
    assert [letter.event_id for letter in letters] == [event_id(n) for n in (1, 2, 3, 5)]
    assert letters[2].record == {"second": True}


async def test_the_attempt_log_is_newest_first_updated_in_place_and_capped(
    make_engine: EngineFactory,
) -> None:
    engine = await make_engine(QueueLimits(attempt_log_size=5))
    queue = engine.deliveries
    await enqueue(engine, [delivery(1), delivery(2)])
    [first, second] = await claim(engine, 1.0)
    await queue.conclude(conclusion(first, "finish"))  # `#1` updated where it was
    assert [record["status"] for record in await queue.attempts("s1")] == ["pending", "succeeded"]
    await queue.conclude(conclusion(second, "retry", due_at=2.0))
    [second] = await claim(engine, 2.0)
    await queue.conclude(conclusion(second, "retry", due_at=3.0))
    log = await queue.attempts("s1")
    assert [(r["eventId"], r["attempt"]) for r in log] == [
        (event_id(2), 2),
        (event_id(2), 1),
        (event_id(1), 1),
    ]
    await enqueue(engine, [delivery(n) for n in range(10, 14)])
    log = await queue.attempts("s1")
    assert len(log) == 5
    assert log[0]["eventId"] == event_id(13)
    assert log[-1] == {"eventId": event_id(2), "attempt": 2, "status": "failed"}


async def test_dropping_a_subscriber_forgets_it_and_later_conclusions_write_nothing(
    engine: Engine,
) -> None:
    queue = engine.deliveries
    await enqueue(engine, [delivery(1, lane="s1/a"), delivery(2, lane="s1/a"), delivery(3)])
    await enqueue(engine, [delivery(1, subscriber="s2")])
    first, third = await claim(engine, 1.0)
    await queue.conclude(conclusion(third, "dead", at=1.0))
    await queue.drop_subscriber("s1")

    late = await queue.conclude(conclusion(first, "retry", at=2.0, due_at=3.0))
    assert late == type(late)(applied=False, failing_since=None)
    assert await queue.attempts("s1") == []
    assert await queue.dead_letters("s1", "", 10) == []
    assert await queue.due_subscribers(10.0) == ["s2"]
    stats = await queue.stats(10.0)
    assert (stats.depth, stats.queued_bytes, stats.dead_bytes) == (1, len(delivery(1).payload), 0)

    await enqueue(engine, [delivery(4, lane="s1/a")])  # the lane starts afresh
    [fresh] = await claim(engine, 10.0)
    assert fresh.event_id == event_id(4)
    concluded = await queue.conclude(conclusion(fresh, "retry", at=20.0, due_at=30.0))
    assert concluded.failing_since == 20.0  # no failure mark survived the drop


async def test_stats_count_what_is_held_and_how_long_it_has_been_due(engine: Engine) -> None:
    queue = engine.deliveries
    await enqueue(engine, [delivery(1, size=100), delivery(2, size=50)], due_at=10.0)
    await enqueue(engine, [delivery(1, subscriber="s2", size=10)], due_at=30.0)
    stats = await queue.stats(5.0)
    assert (stats.depth, stats.queued_bytes, stats.dead_bytes) == (3, 160, 0)
    assert stats.oldest_due_seconds == 0.0
    assert (await queue.stats(25.0)).oldest_due_seconds == 15.0
    claimed = await claim(engine, 25.0)
    assert (await queue.stats(26.0)).oldest_due_seconds == 0.0
    await queue.conclude(conclusion(claimed[0], "dead", at=26.0))
    stats = await queue.stats(40.0)
    assert (stats.depth, stats.queued_bytes, stats.dead_bytes) == (2, 60, 100)
    assert stats.oldest_due_seconds == 10.0
