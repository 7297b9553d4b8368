"""The delivery loops' life: readiness while the engine fails, a restart that resumes from
the stored cursor, and shutdown handing unfinished deliveries back to the queue."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.delivery.runtime import DELIVERY
from gateway.engine import EngineUnavailable
from gateway.engine.memory import MemoryEngine
from gateway.http.appkeys import LOOPS
from tests.delivery.support import Received, activity, queue_depth, wait_until


class FaultyQueue:
    """The memory delivery queue behind a switch: while `fault` is set, every call raises it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.fault: Exception | None = None

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.fault is not None:
                raise self.fault
            return await method(*args, **kwargs)

        return call


class FaultyEngine(MemoryEngine):
    def __init__(self) -> None:
        super().__init__()
        self.faulty = FaultyQueue(self.deliveries)
        self.deliveries = self.faulty  # type: ignore[assignment]


async def readiness(gateway: Any) -> tuple[int, dict[str, Any]]:
    response = await gateway.client.get("/readyz")
    return response.status, await response.json()


async def test_loops_survive_an_unavailable_engine_and_catch_up(make_gateway, make_sink):
    engine = FaultyEngine()
    gateway = await make_gateway(engine=engine)
    sink = await make_sink()
    await gateway.create_subscriber(url=sink.url(), events=["*"])
    await wait_until(lambda: _ready(gateway), message="readiness")

    engine.faulty.fault = EngineUnavailable("redis went away")
    stored = await gateway.store(activity(), activity())
    status, _ = await readiness(gateway)
    assert status == 200
    assert sink.received == []
    engine.faulty.fault = None

    await wait_until(lambda: len(sink.received) == 2, timeout=15, message="catching up")
    assert [r.headers["webhook-id"] for r in sink.received] == [e.id for e in stored]
    assert (await readiness(gateway))[0] == 200


async def test_readyz_reports_a_dead_delivery_loop(make_gateway):
    engine = FaultyEngine()
    gateway = await make_gateway(engine=engine)
    await wait_until(lambda: _ready(gateway), message="readiness")

    engine.faulty.fault = RuntimeError("corrupt record")
    await gateway.store(activity())

    async def not_ready() -> bool:
        return (await readiness(gateway))[0] == 503

    await wait_until(not_ready, message="/readyz to turn 503")
    _, body = await readiness(gateway)
    assert body["error"]["code"] == "unavailable"
    assert any("delivery" in problem for problem in body["problems"])


async def _ready(gateway: Any) -> bool:
    return (await readiness(gateway))[0] == 200


async def test_restart_resumes_from_the_stored_cursor(make_gateway, make_sink):
    engine = MemoryEngine()
    sink = await make_sink()
    first = await make_gateway(engine=engine)
    await first.create_subscriber(url=sink.url(), events=["*"])
    [before] = await first.store(activity(text="before the restart"))
    await wait_until(lambda: len(sink.received) == 1, message="the first delivery")
    await first.client.close()

    while_down = await first.store(activity(text="while down 1"), activity(text="while down 2"))
    second = await make_gateway(engine=engine)
    [after] = await second.store(activity(text="after the restart"))

    await wait_until(lambda: len(sink.received) == 4, message="every delivery")
    expected = [before.id, *(e.id for e in while_down), after.id]
    assert [r.headers["webhook-id"] for r in sink.received] == expected


async def test_shutdown_hands_unfinished_deliveries_back(make_gateway, make_sink):
    engine = MemoryEngine()
    gateway = await make_gateway(engine=engine, delivery_timeout_seconds=30)
    sink = await make_sink()
    sink.respond = sink.hang
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"])
    stored = await gateway.store(activity(), activity(), activity())
    await wait_until(lambda: len(sink.received) == 3, message="three deliveries in flight")
    now = time.time()
    assert await engine.deliveries.due_subscribers(now) == []  # claimed: leased for 60 s

    await gateway.client.close()

    subscriber_id = subscriber["subscriberId"]
    assert await engine.deliveries.due_subscribers(time.time()) == [subscriber_id]
    handed_back = await engine.deliveries.claim(
        subscriber_id, time.time(), 10, 60, max_in_flight=10
    )
    assert sorted(d.event_id for d in handed_back) == [e.id for e in stored]
    assert all(d.attempts == 0 for d in handed_back)


async def test_two_instances_on_one_engine_deliver_each_event_once(make_gateway, make_sink):
    engine = MemoryEngine()
    sink = await make_sink()
    first = await make_gateway(engine=engine)
    second = await make_gateway(engine=engine)
    await first.create_subscriber(url=sink.url(), events=["*"])

    stored = []
    for index in range(10):
        stored += await (first if index % 2 else second).store(activity(), activity())

    await wait_until(lambda: len(sink.received) >= 20, message="every delivery")
    await wait_until(lambda: _empty(engine), message="an empty queue")
    assert sorted(r.headers["webhook-id"] for r in sink.received) == [e.id for e in stored]


async def _empty(engine: MemoryEngine) -> bool:
    return await queue_depth(engine) == 0


async def test_deliveries_claimed_by_a_process_that_died_are_taken_over(make_gateway, make_sink):
    """A process claims three deliveries and dies mid-attempt (no conclusion, no hand-back);
    once their lease runs out (delivery timeout + lease margin) another process delivers
    them. The margin is the test-only setting that keeps this short."""
    engine = MemoryEngine()
    sink = await make_sink()
    hung = 0

    async def hang_then_ok(request: web.Request, received: Received) -> web.StreamResponse:
        nonlocal hung
        if hung < 3:
            hung += 1
            await sink.released.wait()
        return web.Response(status=204)

    sink.respond = hang_then_ok
    timing = {"delivery_timeout_seconds": 0.5, "delivery_lease_margin_seconds": 0.3}
    dying = await make_gateway(engine=engine, **timing)
    await dying.create_subscriber(url=sink.url(), events=["*"])
    stored = await dying.store(activity(), activity(), activity())
    await wait_until(lambda: hung == 3, message="three attempts in flight")
    claimed_at = time.monotonic()
    dispatcher = dying.app[DELIVERY].dispatcher
    assert dispatcher is not None
    await dying.app[LOOPS].stop()  # killed: its loops and its attempts stop where they are
    for task in list(dispatcher._tasks):
        task.cancel()

    await make_gateway(engine=engine, **timing)  # the surviving process
    await wait_until(lambda: len(sink.received) == 6, message="the takeover")
    assert time.monotonic() - claimed_at >= 0.75  # not before the lease ran out
    taken_over = sorted(r.headers["webhook-id"] for r in sink.received[3:])
    assert taken_over == [e.id for e in stored]
    await wait_until(lambda: _empty(engine), message="an empty queue")
