"""The delivery queue bounded and quiet: per-subscriber byte caps on queued and dead
deliveries (counted in /metrics), a disabled subscriber's queue parked and never polled,
and no registry scan per dispatcher pass or enqueued batch."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from aiohttp import web

from gateway.engine.deliveries import OVERFLOW_ERROR
from gateway.engine.memory import MemoryEngine
from gateway.subscribers.store import KIND
from tests.delivery.support import AUTH, HUB, Received, activity, queue_depth, wait_until
from tests.http.hostile_probes import metric as process_metric
from tests.running_gateway import hubster_system, running

OTHER_HUB = "4bc1e69f-c520-446f-ab2c-01751fd66a32"


class Counting:
    """An engine store counting the calls made to it (by method, and first argument)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[tuple[str, Any]] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            first = args[0] if args and isinstance(args[0], str) else None
            self.calls[(name, first)] += 1
            return await method(*args, **kwargs)

        return call


async def metric(gateway: Any, name: str) -> float:
    text = await (await gateway.client.get("/metrics")).text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def failing(request: web.Request, received: Received) -> web.StreamResponse:
    return web.Response(status=500)


async def test_past_the_queued_cap_the_oldest_deliveries_die_and_are_counted(
    make_gateway, make_sink
):
    one = len(str(activity()))  # about one event's bytes
    gateway = await make_gateway(
        retry_schedule=[0, 3600], subscriber_max_queued_bytes=int(3.5 * one)
    )
    sink = await make_sink(failing)
    subscriber_id = (await gateway.create_subscriber(url=sink.url(), events=["*"]))["subscriberId"]
    stored = await gateway.store(*[activity(text=f"m{n}") for n in range(10)])

    await wait_until(lambda: len(sink.received) >= 3, message="the first attempts")
    dead = await gateway.attempts(subscriber_id, "dead")
    assert len(dead) >= 6
    assert {record["error"] for record in dead} == {OVERFLOW_ERROR}
    assert stored[0].id in {record["eventId"] for record in dead}  # the oldest went first
    assert await queue_depth(gateway.engine) <= 4

    async def counted() -> bool:
        return await metric(gateway, "gateway_delivery_overflowed_total") == len(dead)

    await wait_until(counted, message="the overflow in /metrics")
    assert await metric(gateway, "gateway_delivery_queued_bytes") <= 3.5 * one
    assert await metric(gateway, "gateway_delivery_dead_bytes") > 0


async def test_past_the_dead_cap_the_oldest_letters_go(make_gateway, make_sink):
    one = len(str(activity()))
    gateway = await make_gateway(retry_schedule=[0], subscriber_max_dead_bytes=int(2.5 * one))
    sink = await make_sink(failing)
    subscriber_id = (await gateway.create_subscriber(url=sink.url(), events=["*"]))["subscriberId"]
    stored = await gateway.store(*[activity(text=f"m{n}") for n in range(6)])
    await wait_until(lambda: len(sink.received) == 6, message="every attempt")

    async def all_dead() -> bool:
        return await queue_depth(gateway.engine) == 0

    await wait_until(all_dead, message="every delivery dead")

    dead = await gateway.attempts(subscriber_id, "dead")
    assert [record["eventId"] for record in dead] == [stored[5].id, stored[4].id]

    async def counted() -> bool:
        return await metric(gateway, "gateway_dead_letters_dropped_total") == 4

    await wait_until(counted, message="the dropped letters in /metrics")


async def test_a_disabled_subscribers_queue_is_parked_and_never_polled(make_gateway, make_sink):
    engine = MemoryEngine()
    queue = Counting(engine.deliveries)
    engine.deliveries = queue  # type: ignore[assignment]
    gateway = await make_gateway(engine=engine)
    answers = [410]

    async def gone_then_ok(request: web.Request, received: Received) -> web.StreamResponse:
        return web.Response(status=answers.pop(0) if answers else 204)

    sink = await make_sink(gone_then_ok)
    subscriber_id = (await gateway.create_subscriber(url=sink.url(), events=["*"]))["subscriberId"]
    [event] = await gateway.store(activity())

    async def disabled() -> bool:
        return not (await gateway.subscriber(subscriber_id))["enabled"]

    await wait_until(disabled, message="the subscriber to be disabled")
    claims = queue.calls[("claim", subscriber_id)]
    await asyncio.sleep(0.5)  # ten dispatcher passes
    assert queue.calls[("claim", subscriber_id)] == claims
    assert subscriber_id not in await queue.inner.due_subscribers(time.time() + 86400)
    assert await queue_depth(engine) == 1  # kept for when it is enabled

    response = await gateway.client.post(f"/subscribers/{subscriber_id}/enable", headers=AUTH)
    assert response.status == 200
    await wait_until(lambda: len(sink.received) == 2, message="the held delivery")
    assert sink.received[1].headers["webhook-id"] == event.id


async def test_subscribers_are_read_again_only_after_a_change(make_gateway, make_sink):
    engine = MemoryEngine()
    registry = Counting(engine.registry)
    engine.registry = registry  # type: ignore[assignment]
    gateway = await make_gateway(engine=engine, delivery_timeout_seconds=30)
    sink = await make_sink()
    sink.respond = sink.hang
    subscriber_id = (await gateway.create_subscriber(url=sink.url(), events=["*"]))["subscriberId"]
    await gateway.store(*[activity() for _ in range(12)])  # 8 in flight, 4 due every pass
    await wait_until(lambda: len(sink.received) == 8, message="eight in flight")
    for _ in range(3):  # more batches for the enqueuer
        await gateway.store(activity())
        await asyncio.sleep(0.1)

    listed = registry.calls[("list", KIND)]
    await gateway.store(activity())
    await asyncio.sleep(0.5)  # ten dispatcher passes with a due subscriber, one more batch
    assert registry.calls[("list", KIND)] == listed
    assert registry.calls[("changes", KIND)] > 10

    patch = {"description": "changed"}
    path = f"/subscribers/{subscriber_id}"
    assert (await gateway.client.patch(path, json=patch, headers=AUTH)).status == 200
    await wait_until(
        lambda: registry.calls[("list", KIND)] > listed, message="a re-read after the change"
    )


async def test_a_real_gateway_holds_a_failing_subscriber_to_its_caps_and_parks_a_gone_one(
    make_sink, engine_env
):
    """The review's probe against a real `python -m gateway serve`: a subscriber failing
    every attempt, an hour between retries, used to keep every payload queued. Now its
    queued and dead bytes stay within their caps in /metrics, which counts the deliveries
    that died of it and the dead letters dropped; and a subscriber answering 410 (of
    another hub) is parked: nothing more is sent to it, and the deliveries it held are
    kept for when it is enabled. On either engine."""
    queued_cap, dead_cap = 16384, 8192
    env = {
        **engine_env,
        "GATEWAY_ALLOW_PRIVATE_TARGETS": "true",
        "GATEWAY_RETRY_SCHEDULE": "0,3600",
        "GATEWAY_SUBSCRIBER_MAX_QUEUED_BYTES": str(queued_cap),
        "GATEWAY_SUBSCRIBER_MAX_DEAD_BYTES": str(dead_cap),
    }
    failing_sink = await make_sink(failing)
    gone_sink_state = {"gone": True}
    delivered: list[str] = []

    async def gone_until_enabled(request: web.Request, received: Received) -> web.StreamResponse:
        if gone_sink_state["gone"]:
            return web.Response(status=410)
        delivered.append(received.json()["message"]["text"])
        return web.Response(status=204)

    gone_sink = await make_sink(gone_until_enabled)
    with running(env=env) as gateway:

        async def call(*args: Any) -> Any:
            return await asyncio.to_thread(*args)

        async def subscriber(sink: Any, hub: str) -> str:
            body = {"url": sink.url(), "events": ["*"], "hubIds": [hub]}
            return str((await call(gateway.admin, "POST", "/subscribers", body))["subscriberId"])

        await subscriber(failing_sink, HUB)
        gone = f"/subscribers/{await subscriber(gone_sink, OTHER_HUB)}"
        integrations = {
            hub: await call(gateway.integration, "hubster-system", hub) for hub in (HUB, OTHER_HUB)
        }

        async def post(hub: str, *texts: str) -> None:
            messages = [{"type": "text", "text": text} for text in texts]
            await call(gateway.post, integrations[hub], hubster_system("c1", *messages, hub=hub))

        async def disabled() -> bool:
            return not (await call(gateway.admin, "GET", gone))["enabled"]

        held = [f"held {n}" for n in range(3)]
        await post(OTHER_HUB, *held)  # queued at once, before the first 410
        await wait_until(disabled, message="the subscriber answering 410 to be disabled")
        attempts = len(gone_sink.received)
        big = [f"{n}-" + "x" * 2000 for n in range(40)]  # 80 KB: five times the queued cap
        for text in big:
            await post(HUB, text)

        def counted() -> bool:
            return (
                process_metric(gateway, "gateway_delivery_overflowed_total") > 0
                and process_metric(gateway, "gateway_dead_letters_dropped_total") > 0
            )

        await wait_until(counted, message="deliveries overflowed and letters dropped")
        # Both subscribers' queues within the cap; only the failing one has dead letters.
        assert process_metric(gateway, "gateway_delivery_queued_bytes") <= 2 * queued_cap
        assert 0 < process_metric(gateway, "gateway_delivery_dead_bytes") <= dead_cap
        assert len(gone_sink.received) == attempts  # parked: not one attempt more

        gone_sink_state["gone"] = False
        await call(gateway.admin, "POST", gone + "/enable", {})
        await wait_until(lambda: sorted(delivered) == held, message="the held deliveries")
