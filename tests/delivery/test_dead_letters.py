"""Dead deliveries are kept for replay: in the subscriber's dead-letter store, with the event's
bytes, so a replay still finds them after the event log's history dropped the event."""

from __future__ import annotations

import time

from aiohttp import web

from tests.delivery.support import AUTH, Gateway, Received, activity, wait_until


class Switch:
    """A sink answer the test flips: 500 until `status` changes."""

    def __init__(self) -> None:
        self.status = 500

    async def __call__(self, request: web.Request, received: Received) -> web.StreamResponse:
        return web.Response(status=self.status)


async def replay_all(gateway: Gateway, subscriber_id: str) -> int:
    response = await gateway.client.post(
        f"/subscribers/{subscriber_id}/replay",
        json={"since": "2020-01-01T00:00:00Z"},
        headers=AUTH,
    )
    assert response.status == 202, await response.text()
    enqueued: int = (await response.json())["enqueued"]
    return enqueued


async def trim_the_event_log(gateway: Gateway) -> None:
    """What the retention loop does once `history_seconds` have passed."""
    assert await gateway.engine.events.trim(int(time.time() * 1000) + 1, 1 << 30) > 0


async def test_a_dead_delivery_is_replayed_after_the_event_log_dropped_it(make_gateway, make_sink):
    gateway = await make_gateway()
    answer = Switch()
    sink = await make_sink(answer)
    subscriber_id = (await gateway.create_subscriber(url=sink.url(), events=["*"]))["subscriberId"]
    [event] = await gateway.store(activity())
    await wait_until(lambda: gateway.attempts(subscriber_id, "dead"), message="a dead delivery")
    [dead] = await gateway.attempts(subscriber_id, "dead")
    assert (dead["eventId"], dead["attempt"], dead["responseStatus"]) == (event.id, 3, 500)
    await trim_the_event_log(gateway)

    answer.status = 204
    assert await replay_all(gateway, subscriber_id) == 1
    await wait_until(lambda: len(sink.received) == 4, message="the replayed delivery")
    replayed = sink.received[-1]
    assert replayed.headers["webhook-id"] == event.id
    assert replayed.body == event.payload
    await wait_until(
        lambda: _no_dead(gateway, subscriber_id), message="the dead letter to be resolved"
    )
    assert await replay_all(gateway, subscriber_id) == 0


async def _no_dead(gateway: Gateway, subscriber_id: str) -> bool:
    return await gateway.attempts(subscriber_id, "dead") == []


async def test_replay_takes_each_event_once_from_the_log_and_the_dead_letters(
    make_gateway, make_sink
):
    gateway = await make_gateway()
    answer = Switch()
    sink = await make_sink(answer)
    subscriber_id = (await gateway.create_subscriber(url=sink.url(), events=["*"]))["subscriberId"]
    [trimmed] = await gateway.store(activity(text="first"))
    await wait_until(lambda: gateway.attempts(subscriber_id, "dead"), message="the first death")
    await trim_the_event_log(gateway)
    [logged] = await gateway.store(activity(text="second"))  # dead, and still in the log
    await wait_until(lambda: _dead_count(gateway, subscriber_id, 2), message="the second death")

    answer.status = 204
    sink.received.clear()
    assert await replay_all(gateway, subscriber_id) == 2
    await wait_until(lambda: len(sink.received) == 2, message="both replayed")
    assert sorted(r.headers["webhook-id"] for r in sink.received) == [trimmed.id, logged.id]


async def _dead_count(gateway: Gateway, subscriber_id: str, count: int) -> bool:
    return len(await gateway.attempts(subscriber_id, "dead")) == count
