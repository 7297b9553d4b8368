"""Replay: stored events in a range, matching the subscriber's filters, delivered again with
their original webhook-id."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from gateway.delivery.enqueuer import replay as replay_range
from gateway.engine.events import StoredEvent
from gateway.engine.ids import event_id_ms
from gateway.subscribers.store import SubscriberStore
from gateway.times import format_ms
from tests.delivery.support import AUTH, Gateway, Sink, activity, wait_until


async def store_apart(gateway: Gateway, *activities: dict[str, Any]) -> list[StoredEvent]:
    """Store one by one, each in a later millisecond, so times can tell them apart."""
    stored = []
    for item in activities:
        stored += await gateway.store(item)
        await asyncio.sleep(0.003)
    return stored


async def replay(gateway: Gateway, subscriber_id: str, body: dict[str, Any]) -> int:
    response = await gateway.client.post(
        f"/subscribers/{subscriber_id}/replay", json=body, headers=AUTH
    )
    assert response.status == 202, await response.text()
    enqueued: int = (await response.json())["enqueued"]
    return enqueued


def ids(sink: Sink, start: int = 0) -> list[str]:
    return [received.headers["webhook-id"] for received in sink.received[start:]]


async def test_replay_since_until_and_after_event_id(make_gateway, make_sink):
    gateway = await make_gateway()
    sink = await make_sink()
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["message"])
    subscriber_id = subscriber["subscriberId"]
    first, receipt, second, third = await store_apart(
        gateway,
        activity("message:customer", text="one"),
        activity("receipt:delivered"),
        activity("message:agent", text="two"),
        activity("message:customer", text="three"),
    )
    await wait_until(lambda: len(sink.received) == 3, message="the live deliveries")
    assert ids(sink) == [first.id, second.id, third.id]

    since = format_ms(event_id_ms(receipt.id))
    assert await replay(gateway, subscriber_id, {"since": since}) == 2
    await wait_until(lambda: len(sink.received) == 5, message="the replay since")
    assert sorted(ids(sink, 3)) == [second.id, third.id]

    until = format_ms(event_id_ms(second.id))
    assert await replay(gateway, subscriber_id, {"since": since, "until": until}) == 1
    await wait_until(lambda: len(sink.received) == 6, message="the replay until")
    assert ids(sink, 5) == [second.id]

    assert await replay(gateway, subscriber_id, {"afterEventId": first.id}) == 2
    await wait_until(lambda: len(sink.received) == 8, message="the replay after an id")
    assert sorted(ids(sink, 6)) == [second.id, third.id]

    replayed = sink.received[-1]
    original = next(
        r for r in sink.received if r.headers["webhook-id"] == replayed.headers["webhook-id"]
    )
    assert replayed.body == original.body
    records = await gateway.attempts(subscriber_id, "succeeded")
    assert len(records) == 8
    assert await replay(gateway, subscriber_id, {"afterEventId": third.id}) == 0


async def test_replay_reaches_back_past_the_subscriber_creation(make_gateway, make_sink):
    gateway = await make_gateway()
    sink = await make_sink()
    [old] = await gateway.store(activity(text="before the subscriber"))
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"])
    since = format_ms(event_id_ms(old.id))

    assert await replay(gateway, subscriber["subscriberId"], {"since": since}) == 1
    await wait_until(lambda: sink.received, message="the replayed delivery")
    assert ids(sink) == [old.id]


async def test_a_long_replay_lets_other_tasks_run_between_batches(make_gateway):
    gateway = await make_gateway()
    created = await gateway.create_subscriber(url="http://sink.invalid/hook", events=["*"])
    store = SubscriberStore(gateway.engine.registry)
    subscriber = await store.get(created["subscriberId"])
    assert subscriber is not None
    await store.update(subscriber.id, lambda s: replace(s, enabled=False))  # enqueued, never sent
    await gateway.store(*[activity() for _ in range(2000)])
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    assert await replay_range(gateway.engine, subscriber, "0", None) == 2000
    during = ticks - before
    task.cancel()
    assert during >= 4  # at least once per batch of 500
