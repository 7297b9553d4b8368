"""A subscriber deleted while one of its attempts is in flight leaves nothing behind: the
late attempt's `conclude` writes no attempt record, failure mark, dead letter or rate
bucket for it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.delivery.runtime import DELIVERY
from gateway.engine.deliveries import Conclusion, QueuedDelivery
from gateway.engine.memory import MemoryEngine
from gateway.subscribers.store import KIND
from tests.delivery.support import Received, activity, queue_depth, wait_until


class DeleteBeforeConclude:
    """The memory queue, except that the first `conclude` for `victim` is preceded by the
    admin API's delete (registry record, then the queue): the delete lands mid-attempt,
    after the attempt saw the subscriber still there."""

    def __init__(self, engine: MemoryEngine) -> None:
        self.engine = engine
        self.inner = engine.deliveries
        self.victim: str | None = None
        self.deleted = False
        self.applied: list[bool] = []

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method: Callable[..., Awaitable[Any]] = getattr(self.inner, name)
        return method

    async def conclude(self, conclusion: Conclusion) -> Any:
        subscriber_id = conclusion.delivery.subscriber_id
        if subscriber_id == self.victim and not self.deleted:
            self.deleted = True
            await self.engine.registry.delete(KIND, subscriber_id)
            await self.inner.drop_subscriber(subscriber_id)
        concluded = await self.inner.conclude(conclusion)
        self.applied.append(concluded.applied)
        return concluded


class RacingEngine(MemoryEngine):
    def __init__(self) -> None:
        super().__init__()
        self.racing = DeleteBeforeConclude(self)
        self.deliveries = self.racing  # type: ignore[assignment]


async def test_an_attempt_concluding_after_the_delete_leaves_nothing(make_gateway, make_sink):
    async def failing(request: web.Request, received: Received) -> web.StreamResponse:
        return web.Response(status=500)

    engine = RacingEngine()
    gateway = await make_gateway(engine=engine)
    doomed_sink = await make_sink(failing)
    doomed = await gateway.create_subscriber(
        url=doomed_sink.url(), events=["message"], rateLimitPerSecond=5
    )
    doomed_id = doomed["subscriberId"]
    engine.racing.victim = doomed_id
    await gateway.store(activity())
    dispatcher = gateway.app[DELIVERY].dispatcher
    assert dispatcher is not None
    await wait_until(lambda: engine.racing.deleted, message="the delete mid-attempt")
    await wait_until(lambda: not dispatcher._tasks, message="the attempt to conclude")

    assert engine.racing.applied == [False]
    queue = engine.racing.inner
    assert await queue.attempts(doomed_id) == []
    assert await queue.dead_letters(doomed_id, "", 10) == []
    assert await queue_depth(engine) == 0
    # no failure mark survived: a failure now starts a new run
    fresh = QueuedDelivery("fresh", doomed_id, "1763899200000-000000", b"{}")
    await queue.enqueue([fresh], 0.0, [{}])
    [claimed] = await queue.claim(doomed_id, 1.0, 1, 45, max_in_flight=1, rate_per_second=5)
    now = time.time()
    concluded = await queue.conclude(
        Conclusion(claimed, "retry", now + 60, "fresh#1", {}, failed_at=now)
    )
    assert concluded.failing_since == now
