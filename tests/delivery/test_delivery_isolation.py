"""Ordering and isolation: an ordered subscriber gets each conversation one at a time in id
order while other conversations go on; a hanging subscriber holds only its own slots."""

from __future__ import annotations

import asyncio
from collections import Counter

from aiohttp import web

from tests.delivery.support import Received, activity, wait_until


async def test_ordered_delivery_per_conversation_without_holding_up_others(make_gateway, make_sink):
    gateway = await make_gateway()
    in_flight: Counter[str] = Counter()
    most_in_flight: Counter[str] = Counter()
    b_all_arrived = asyncio.Event()
    answers_for_first_a = [500]

    async def slow_conversation_a(request: web.Request, received: Received) -> web.StreamResponse:
        conversation = received.json()["conversationId"]
        in_flight[conversation] += 1
        most_in_flight[conversation] = max(most_in_flight[conversation], in_flight[conversation])
        try:
            if conversation == "b":
                if sum(r.json()["conversationId"] == "b" for r in sink.received) == 5:
                    b_all_arrived.set()
                return web.Response(status=200)
            await b_all_arrived.wait()  # "a" cannot finish before all of "b" arrived
            await asyncio.sleep(0.01)
            if answers_for_first_a:
                return web.Response(status=answers_for_first_a.pop())
            return web.Response(status=200)
        finally:
            in_flight[conversation] -= 1

    sink = await make_sink(slow_conversation_a)
    await gateway.create_subscriber(url=sink.url(), events=["*"], ordered=True)
    stored = []
    for index in range(5):
        stored += await gateway.store(
            activity(conversation="a", text=f"a{index}"),
            activity(conversation="b", text=f"b{index}"),
        )

    await wait_until(lambda: len(sink.received) == 11, message="every delivery and the retry")
    ids_a = [e.id for e in stored if e.conversation_id == "a"]
    ids_b = [e.id for e in stored if e.conversation_id == "b"]
    arrived = [(r.json()["conversationId"], r.json()["id"]) for r in sink.received]
    assert [event_id for conv, event_id in arrived if conv == "b"] == ids_b
    assert [event_id for conv, event_id in arrived if conv == "a"] == [ids_a[0], *ids_a]
    assert most_in_flight == Counter({"a": 1, "b": 1})


async def test_unordered_subscriber_runs_a_conversation_in_parallel(make_gateway, make_sink):
    gateway = await make_gateway()
    in_flight = 0
    most_in_flight = 0
    several_at_once = asyncio.Event()

    async def overlapping(request: web.Request, received: Received) -> web.StreamResponse:
        nonlocal in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        if in_flight >= 3:
            several_at_once.set()
        try:
            await asyncio.wait_for(several_at_once.wait(), 5)
            return web.Response(status=200)
        finally:
            in_flight -= 1

    sink = await make_sink(overlapping)
    await gateway.create_subscriber(url=sink.url(), events=["*"])
    await gateway.store(*[activity(conversation="a") for _ in range(3)])
    await wait_until(lambda: len(sink.received) == 3, message="three deliveries")
    assert most_in_flight == 3


async def test_hanging_subscriber_does_not_slow_another(make_gateway, make_sink):
    gateway = await make_gateway(delivery_timeout_seconds=30)
    hanging = await make_sink()
    hanging.respond = hanging.hang
    healthy = await make_sink()
    stuck = await gateway.create_subscriber(url=hanging.url(), events=["*"])
    await gateway.create_subscriber(url=healthy.url(), events=["*"])

    stored = await gateway.store(*[activity(text=f"m{index}") for index in range(20)])

    await wait_until(lambda: len(healthy.received) == 20, message="all 20 at the healthy sink")
    assert {r.headers["webhook-id"] for r in healthy.received} == {e.id for e in stored}
    await wait_until(lambda: len(hanging.received) == 8, message="the hanging sink's eight")
    await asyncio.sleep(0.1)
    assert len(hanging.received) == 8  # its concurrency limit; the rest wait their turn
    pending = await gateway.attempts(stuck["subscriberId"], "pending")
    assert len(pending) == 20

    async def depth_reported() -> bool:
        metrics = await (await gateway.client.get("/metrics")).text()
        return "gateway_delivery_queue_depth 20.0" in metrics

    await wait_until(depth_reported, message="the queue depth gauge")


async def test_rate_limit_spaces_out_deliveries(make_gateway, make_sink):
    gateway = await make_gateway()
    sink = await make_sink()
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"], rateLimitPerSecond=2)
    await gateway.store(*[activity() for _ in range(4)])

    await wait_until(lambda: len(sink.received) == 4, message="every delivery")
    arrivals = [received.at for received in sink.received]
    # 2 per second with a burst of 2: the third cannot start until half a second has passed
    assert arrivals[2] - arrivals[0] >= 0.4
    assert subscriber["rateLimitPerSecond"] == 2


async def test_slow_subscribers_filling_the_global_cap_do_not_hold_up_a_healthy_one(
    make_gateway, make_sink
):
    """33 hanging subscribers with 8 deliveries each would fill the global cap (256) on their
    own; the healthy subscriber still gets every delivery while they all hang."""
    gateway = await make_gateway(delivery_timeout_seconds=30)
    hanging = await make_sink()
    hanging.respond = hanging.hang
    healthy = await make_sink()
    stuck = [
        await gateway.create_subscriber(url=hanging.url(f"/slow-{index}"), events=["*"])
        for index in range(33)
    ]
    await gateway.create_subscriber(url=healthy.url(), events=["*"])

    stored = await gateway.store(*[activity(text=f"m{index}") for index in range(8)])

    await wait_until(lambda: len(healthy.received) == 8, message="the healthy subscriber's 8")
    assert {r.headers["webhook-id"] for r in healthy.received} == {e.id for e in stored}
    await wait_until(lambda: len(hanging.received) >= 256, message="the cap filled by hangers")
    assert not hanging.released.is_set()
    for subscriber in stuck:
        records = await gateway.attempts(subscriber["subscriberId"])
        assert {record["status"] for record in records} == {"pending"}
