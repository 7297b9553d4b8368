"""A subscriber's enabled flag (registry) and its parking (delivery queue) always come to
agree, whatever fails between the two writes and however a disable and an enable
interleave: never enabled but parked for good (deliveries would stop without a word), never
disabled and delivering. Faults and interleavings are forced at the engine boundary
(`tests.engine.faults`), on every engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from gateway.delivery.runtime import DELIVERY
from gateway.engine.base import Engine, EngineUnavailable
from gateway.engine.registry import UPDATE_ATTEMPTS, RegistryConflict, Versioned
from tests.conftest import NewEngine
from tests.delivery.support import (
    AUTH,
    Gateway,
    Received,
    Responder,
    activity,
    queue_depth,
    wait_until,
)
from tests.engine.faults import Faults

FAST_RECONCILE_SECONDS = 0.05


def gone_for(answers: list[int]) -> Responder:
    """Answer 410 while `answers[0]` is above 0 (counting down per request), then 204."""

    async def respond(request: web.Request, received: Received) -> web.StreamResponse:
        if answers[0] > 0:
            answers[0] -= 1
            return web.Response(status=410)
        return web.Response(status=204)

    return respond


async def start(make_gateway: Any, engine: Engine) -> Gateway:
    gateway: Gateway = await make_gateway(engine=engine, delivery_lease_margin_seconds=0.2)
    dispatcher = gateway.app[DELIVERY].dispatcher
    assert dispatcher is not None
    dispatcher.reconcile_seconds = FAST_RECONCILE_SECONDS
    return gateway


async def delivered(gateway: Gateway, subscriber_id: str, count: int) -> None:
    async def done() -> bool:
        return len(await gateway.attempts(subscriber_id, "succeeded")) == count

    await wait_until(done, message=f"{count} deliveries to succeed")
    assert await queue_depth(gateway.engine) == 0


def in_order(calls: list[str], *expected: str) -> bool:
    """Whether `expected` occurs in `calls` in this order (not necessarily adjacent)."""
    remaining = iter(calls)
    return all(name in remaining for name in expected)


@pytest.mark.parametrize(
    ("error", "times"),
    [(EngineUnavailable("redis blip"), 1), (RegistryConflict("raced"), UPDATE_ATTEMPTS)],
    ids=["engine-unavailable", "every-compare-and-set-lost"],
)
async def test_a_410_whose_disable_fails_leaves_the_subscriber_delivering(
    make_gateway: Any,
    make_sink: Any,
    new_engine: NewEngine,
    error: BaseException,
    times: int,
) -> None:
    """The 410 parks the subscriber, then the registry update that would disable it fails:
    its record says enabled, so its queue must not stay parked."""
    engine = await new_engine()
    registry = Faults(engine.registry)
    engine.registry = registry
    gateway = await start(make_gateway, engine)
    sink = await make_sink(gone_for([1]))
    subscriber_id = (await gateway.create_subscriber(url=sink.url(), events=["*"]))["subscriberId"]

    registry.fail("replace", error, times)
    await gateway.store(activity(text="answered 410"))
    await wait_until(lambda: registry.failed["replace"] == times, message="the disable to fail")
    assert (await gateway.subscriber(subscriber_id))["enabled"] is True

    await gateway.store(activity(text="after the failed disable"))
    await delivered(gateway, subscriber_id, 2)  # the 410's event again, and the new one
    assert len(sink.received) == 3
    assert (await gateway.subscriber(subscriber_id))["enabled"] is True


async def test_a_410_whose_conclude_fails_after_its_park_leaves_the_subscriber_delivering(
    make_gateway: Any, make_sink: Any, new_engine: NewEngine
) -> None:
    """The 410 parks the subscriber, then recording the attempt fails: the disable never
    runs, the record says enabled, and the claimed delivery comes back when its lease ends."""
    engine = await new_engine()
    queue = Faults(engine.deliveries)
    engine.deliveries = queue
    gateway = await start(make_gateway, engine)
    sink = await make_sink(gone_for([1]))
    subscriber_id = (await gateway.create_subscriber(url=sink.url(), events=["*"]))["subscriberId"]

    queue.fail("conclude", EngineUnavailable("redis blip"))
    await gateway.store(activity(text="answered 410"))
    await wait_until(lambda: queue.failed["conclude"] == 1, message="the conclude to fail")
    assert in_order(queue.calls, "park", "conclude")

    await gateway.store(activity(text="after the failed conclude"))
    await delivered(gateway, subscriber_id, 2)
    assert (await gateway.subscriber(subscriber_id))["enabled"] is True


def disabled_in(subscriber_id: str) -> Callable[[list[Versioned]], bool]:
    def check(listed: list[Versioned]) -> bool:
        return any(
            item.record["subscriberId"] == subscriber_id and not item.record["enabled"]
            for item in listed
        )

    return check


class EnableRace:
    """A subscriber answering 410 (`answers[0]` times), one claim a second (so the
    dispatcher does not send the 410's delivery again while the race runs), and an enable
    armed to land between the worker's park and its registry write, once the worker has
    read the record: the disable's compare-and-set then retries and wins. Disabled, but
    unparked by the enable, with the 410's delivery due."""

    def __init__(self, gateway: Gateway, registry: Faults, queue: Faults, subscriber_id: str):
        self.gateway, self.registry, self.queue = gateway, registry, queue
        self.subscriber_id = subscriber_id
        registry.after("get", self.enable)

    @classmethod
    async def start(
        cls, make_gateway: Any, make_sink: Any, new_engine: NewEngine, answers: list[int]
    ) -> EnableRace:
        engine = await new_engine()
        calls: list[str] = []
        registry, queue = Faults(engine.registry, calls), Faults(engine.deliveries, calls)
        engine.registry, engine.deliveries = registry, queue
        gateway = await start(make_gateway, engine)
        sink = await make_sink(gone_for(answers))
        created = await gateway.create_subscriber(
            url=sink.url(), events=["*"], rateLimitPerSecond=1
        )
        return cls(gateway, registry, queue, created["subscriberId"])

    async def enable(self) -> None:
        path = f"/subscribers/{self.subscriber_id}/enable"
        response = await self.gateway.client.post(path, headers=AUTH)
        assert response.status == 200, await response.text()

    async def run(self) -> None:
        await self.gateway.store(activity(text="answered 410"))
        await wait_until(
            lambda: "hook after get" in self.queue.calls, message="the enable inside the disable"
        )


async def test_an_enable_inside_a_disable_ends_disabled_and_parked(
    make_gateway: Any, make_sink: Any, new_engine: NewEngine
) -> None:
    answers = [1000]
    race = await EnableRace.start(make_gateway, make_sink, new_engine, answers)
    await race.run()
    subscriber_id, queue = race.subscriber_id, race.queue

    async def disabled_and_parked() -> bool:
        state = await race.gateway.subscriber(subscriber_id)
        return not state["enabled"] and subscriber_id in await queue.inner.parked()

    await wait_until(disabled_and_parked, message="the disabled subscriber to be parked")
    assert (await race.gateway.subscriber(subscriber_id))["disabledReason"] == "gone"
    assert in_order(queue.calls, "park", "hook after get", "unpark", "park")

    answers[0] = 0
    await race.enable()
    await delivered(race.gateway, subscriber_id, 1)


async def test_an_enable_racing_the_dispatchers_park_ends_enabled_and_delivering(
    make_gateway: Any, make_sink: Any, new_engine: NewEngine
) -> None:
    """From there, the dispatcher reads the subscriber list (disabled) to park the due
    subscriber, and another enable lands before its park does: enabled, but parked."""
    race = await EnableRace.start(make_gateway, make_sink, new_engine, [1])
    race.registry.after("list", race.enable, when=disabled_in(race.subscriber_id))
    await race.run()
    await delivered(race.gateway, race.subscriber_id, 1)
    assert in_order(race.queue.calls, "hook after list", "unpark", "park", "parked", "unpark")
    assert (await race.gateway.subscriber(race.subscriber_id))["enabled"] is True


async def test_a_parked_subscriber_whose_delete_did_not_reach_the_queue_is_dropped(
    make_gateway: Any, make_sink: Any, new_engine: NewEngine
) -> None:
    """A delete removes the record, then the queue; should the second step fail, the
    disabled subscriber's parked deliveries are dropped all the same."""
    engine = await new_engine()
    queue = Faults(engine.deliveries)
    engine.deliveries = queue
    gateway = await start(make_gateway, engine)
    sink = await make_sink(gone_for([1000]))
    subscriber_id = (await gateway.create_subscriber(url=sink.url(), events=["*"]))["subscriberId"]
    await gateway.store(activity(text="answered 410"))

    async def disabled() -> bool:
        return not (await gateway.subscriber(subscriber_id))["enabled"]

    await wait_until(disabled, message="the 410 to disable the subscriber")
    queue.fail("drop_subscriber", EngineUnavailable("redis blip"))
    response = await gateway.client.delete(f"/subscribers/{subscriber_id}", headers=AUTH)
    assert response.status == 503
    assert (await gateway.client.get(f"/subscribers/{subscriber_id}", headers=AUTH)).status == 404

    async def forgotten() -> bool:
        return await queue_depth(engine) == 0 and await queue.inner.parked() == []

    await wait_until(forgotten, message="the parked deliveries to be dropped")
    assert queue.failed["drop_subscriber"] == 1
