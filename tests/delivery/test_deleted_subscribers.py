"""A subscriber deleted while one of its attempts is in flight leaves nothing behind: no
attempt record, failure mark or rate-limit bucket recreated by the late attempt."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.delivery.runtime import DELIVERY
from gateway.engine.memory import MemoryEngine
from gateway.subscribers.store import KIND
from tests.delivery.support import Received, activity, wait_until


class DeleteOnRetry:
    """The memory queue, except that the first `retry` of `victim` is preceded by the admin
    API's delete (registry record, then the queue): the delete lands mid-attempt, after the
    attempt saw the subscriber still there."""

    def __init__(self, engine: MemoryEngine) -> None:
        self.engine = engine
        self.inner = engine.deliveries
        self.victim: str | None = None
        self.deleted = False

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method: Callable[..., Awaitable[Any]] = getattr(self.inner, name)
        return method

    async def retry(self, delivery: Any, due_at: float) -> None:
        if delivery.subscriber_id == self.victim and not self.deleted:
            self.deleted = True
            await self.engine.registry.delete(KIND, delivery.subscriber_id)
            await self.inner.drop_subscriber(delivery.subscriber_id)
        await self.inner.retry(delivery, due_at)


class RacingEngine(MemoryEngine):
    def __init__(self) -> None:
        super().__init__()
        self.racing = DeleteOnRetry(self)
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

    assert await engine.racing.inner.attempts(doomed_id) == []
    assert await engine.racing.inner.mark_failing(doomed_id, 123.0) == 123.0  # no earlier mark
    await wait_until(lambda: doomed_id not in dispatcher._buckets, message="its bucket gone")
