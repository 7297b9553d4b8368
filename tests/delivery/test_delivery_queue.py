"""The delivery queue store's contract, on the memory engine, with explicit clocks: leases
(visibility timeout), lanes, idempotent enqueue with its cursor, capped attempt logs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.engine.deliveries import ATTEMPT_LOG_SIZE, CursorConflict, CursorMove, QueuedDelivery
from gateway.engine.memory.deliveries import MemoryDeliveryQueue


def delivery(event: int, subscriber: str = "s1", lane: str | None = None) -> QueuedDelivery:
    event_id = f"{1763899200000 + event:013d}-000000"
    return QueuedDelivery(f"{subscriber}/{event_id}", subscriber, event_id, b"{}", lane=lane)


async def test_claim_leases_and_an_expired_lease_shows_the_delivery_again():
    queue = MemoryDeliveryQueue()
    assert await queue.enqueue([delivery(1), delivery(2)], due_at=100.0) == 2
    assert await queue.due_subscribers(99.0) == []
    assert await queue.due_subscribers(100.0) == ["s1"]

    claimed = await queue.claim("s1", now=100.0, limit=1, lease_seconds=45)
    assert [d.event_id for d in claimed] == [delivery(1).event_id]
    assert [d.event_id for d in await queue.claim("s1", 100.0, 5, 45)] == [delivery(2).event_id]
    assert await queue.claim("s1", 144.9, 5, 45) == []
    retaken = await queue.claim("s1", 145.0, 5, 45)
    assert len(retaken) == 2
    assert await queue.depth() == 2


async def test_retry_finish_and_release():
    queue = MemoryDeliveryQueue()
    await queue.enqueue([delivery(1)], due_at=0.0)
    [claimed] = await queue.claim("s1", 10.0, 5, 45)
    await queue.retry(replace(claimed, attempts=1), due_at=20.0)
    assert await queue.claim("s1", 19.0, 5, 45) == []
    [again] = await queue.claim("s1", 20.0, 5, 45)
    assert again.attempts == 1
    await queue.release([again], now=21.0)
    [released] = await queue.claim("s1", 21.0, 5, 45)
    await queue.finish(released)
    assert await queue.depth() == 0
    assert await queue.due_subscribers(1000.0) == []
    await queue.retry(released, due_at=30.0)  # a late retry of a finished delivery: ignored
    assert await queue.depth() == 0


async def test_a_lane_shows_one_delivery_at_a_time_in_event_order():
    queue = MemoryDeliveryQueue()
    lane = "s1/conversation-a"
    await queue.enqueue([delivery(1, lane=lane), delivery(3, lane=lane)], due_at=0.0)
    await queue.enqueue([delivery(2, lane=lane), delivery(9)], due_at=0.0)

    order = []
    while await queue.depth():
        claimed = await queue.claim("s1", 1.0, 10, 45)
        laned = [d for d in claimed if d.lane]
        assert len(laned) <= 1
        for item in claimed:
            order.append(item.event_id)
            await queue.finish(item)
    assert order[0] in {delivery(1).event_id, delivery(9).event_id}
    laned_order = [event for event in order if event != delivery(9).event_id]
    assert laned_order == [delivery(n).event_id for n in (1, 2, 3)]


async def test_enqueue_is_idempotent_and_moves_the_cursor_with_the_batch():
    queue = MemoryDeliveryQueue()
    assert await queue.cursor("reader") is None
    assert await queue.enqueue([delivery(1)], 0.0, CursorMove("reader", None, "c1")) == 1
    assert (
        await queue.enqueue([delivery(1), delivery(2)], 0.0, CursorMove("reader", "c1", "c2")) == 1
    )
    assert await queue.cursor("reader") == "c2"
    assert await queue.depth() == 2


async def test_a_reader_behind_the_cursor_enqueues_nothing():
    queue = MemoryDeliveryQueue()
    await queue.enqueue([delivery(1)], 0.0, CursorMove("reader", None, "c1"))
    with pytest.raises(CursorConflict):
        await queue.enqueue([delivery(2)], 0.0, CursorMove("reader", None, "c2"))
    assert await queue.cursor("reader") == "c1"
    assert await queue.depth() == 1


async def test_attempt_log_is_newest_first_updated_in_place_and_capped():
    queue = MemoryDeliveryQueue()
    await queue.record_attempt("s1", "a#1", {"status": "pending"})
    await queue.record_attempt("s1", "b#1", {"status": "pending"})
    await queue.record_attempt("s1", "a#1", {"status": "succeeded"})
    await queue.record_attempt("s1", "a#1", {"status": "pending"}, only_new=True)
    assert await queue.attempts("s1") == [{"status": "pending"}, {"status": "succeeded"}]
    for index in range(ATTEMPT_LOG_SIZE + 5):
        await queue.record_attempt("s1", f"k{index}", {"n": index})
    log = await queue.attempts("s1")
    assert len(log) == ATTEMPT_LOG_SIZE
    assert log[0] == {"n": ATTEMPT_LOG_SIZE + 4}


async def test_failure_runs_and_dropping_a_subscriber():
    queue = MemoryDeliveryQueue()
    assert await queue.mark_failing("s1", 10.0) == 10.0
    assert await queue.mark_failing("s1", 20.0) == 10.0
    await queue.clear_failing("s1")
    assert await queue.mark_failing("s1", 30.0) == 30.0

    await queue.enqueue([delivery(1, lane="s1/a"), delivery(2, lane="s1/a")], 0.0)
    await queue.enqueue([delivery(1, subscriber="s2")], 0.0)
    await queue.record_attempt("s1", "x", {"status": "pending"})
    await queue.drop_subscriber("s1")
    assert await queue.depth() == 1
    assert await queue.due_subscribers(1.0) == ["s2"]
    assert await queue.attempts("s1") == []
    assert await queue.mark_failing("s1", 40.0) == 40.0
    await queue.enqueue([delivery(3, lane="s1/a")], 0.0)
    assert [d.event_id for d in await queue.claim("s1", 1.0, 5, 45)] == [delivery(3).event_id]
