"""Every answer a subscriber can give, from real sinks: 2xx, 410, 429 with Retry-After, 500
until dead, a hanging sink, a refused connection, and disabling a subscriber that keeps
failing."""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime

from aiohttp import web

from tests.delivery.support import AUTH, Received, activity, queue_depth, wait_until


async def answer_500(request: web.Request, received: Received) -> web.StreamResponse:
    return web.Response(status=500, text="boom")


def seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


async def test_500_is_retried_with_the_same_webhook_id_then_dead(make_gateway, make_sink):
    gateway = await make_gateway()
    sink = await make_sink(answer_500)
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"])
    subscriber_id = subscriber["subscriberId"]
    [event] = await gateway.store(activity())

    await wait_until(lambda: gateway.attempts(subscriber_id, "dead"), message="a dead delivery")

    assert len(sink.received) == 3
    assert {received.headers["webhook-id"] for received in sink.received} == {event.id}
    records = await gateway.attempts(subscriber_id)
    assert [(r["attempt"], r["status"]) for r in records] == [
        (3, "dead"),
        (2, "failed"),
        (1, "failed"),
    ]
    assert all(r["responseStatus"] == 500 and r["eventId"] == event.id for r in records)
    assert records[0]["nextAttemptAt"] is None
    assert records[1]["nextAttemptAt"] is not None
    assert await gateway.attempts(subscriber_id, "succeeded") == []
    assert await queue_depth(gateway.engine) == 0
    metrics = await (await gateway.client.get("/metrics")).text()
    assert 'gateway_deliveries_total{outcome="dead"} 1.0' in metrics
    assert 'gateway_deliveries_total{outcome="failed"} 2.0' in metrics


async def test_410_disables_the_subscriber_and_enable_resumes_delivery(make_gateway, make_sink):
    gateway = await make_gateway()
    answers = [410]

    async def gone_then_ok(request: web.Request, received: Received) -> web.StreamResponse:
        return web.Response(status=answers.pop(0) if answers else 200)

    sink = await make_sink(gone_then_ok)
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"])
    subscriber_id = subscriber["subscriberId"]
    [event] = await gateway.store(activity())

    async def disabled() -> bool:
        return not (await gateway.subscriber(subscriber_id))["enabled"]

    await wait_until(disabled, message="the subscriber to be disabled")
    state = await gateway.subscriber(subscriber_id)
    assert state["disabledReason"] == "gone"
    [record] = await gateway.attempts(subscriber_id)
    assert (record["status"], record["responseStatus"]) == ("failed", 410)
    [later] = await gateway.store(activity(text="while disabled"))
    assert len(sink.received) == 1

    response = await gateway.client.post(f"/subscribers/{subscriber_id}/enable", headers=AUTH)
    assert response.status == 200
    assert (await response.json())["enabled"] is True
    await wait_until(lambda: len(sink.received) == 2, message="the held delivery")
    assert sink.received[1].headers["webhook-id"] == event.id
    assert (await gateway.subscriber(subscriber_id))["disabledReason"] is None
    assert later.id not in {r.headers["webhook-id"] for r in sink.received}


async def test_429_retry_after_is_honoured(make_gateway, make_sink):
    gateway = await make_gateway()
    answers = [429]

    async def slow_down_once(request: web.Request, received: Received) -> web.StreamResponse:
        if answers:
            return web.Response(status=answers.pop(0), headers={"Retry-After": "1"})
        return web.Response(status=202)

    sink = await make_sink(slow_down_once)
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"])
    subscriber_id = subscriber["subscriberId"]
    await gateway.store(activity())

    await wait_until(lambda: gateway.attempts(subscriber_id, "succeeded"), message="success")
    succeeded, throttled = await gateway.attempts(subscriber_id)
    assert (throttled["status"], throttled["responseStatus"]) == ("failed", 429)
    assert abs(seconds_between(throttled["at"], throttled["nextAttemptAt"]) - 1.0) < 0.01
    assert succeeded["attempt"] == 2
    assert len(sink.received) == 2


async def test_hanging_sink_times_out_and_is_retried(make_gateway, make_sink):
    gateway = await make_gateway(delivery_timeout_seconds=0.2)
    sink = await make_sink()
    sink.respond = sink.hang
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"])
    subscriber_id = subscriber["subscriberId"]
    await gateway.store(activity())

    await wait_until(lambda: gateway.attempts(subscriber_id, "dead"), message="a dead delivery")
    records = await gateway.attempts(subscriber_id)
    assert len(records) == 3
    assert all(r["responseStatus"] is None for r in records)
    assert all("timed out" in r["error"] for r in records)
    assert len(sink.received) == 3


async def test_connection_refused_is_retried_then_dead(make_gateway):
    gateway = await make_gateway()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{closed_port}/hook"
    subscriber = await gateway.create_subscriber(url=url, events=["*"])
    subscriber_id = subscriber["subscriberId"]
    await gateway.store(activity())

    await wait_until(lambda: gateway.attempts(subscriber_id, "dead"), message="a dead delivery")
    records = await gateway.attempts(subscriber_id)
    assert [r["status"] for r in records] == ["dead", "failed", "failed"]
    assert all("connection failed" in r["error"] for r in records)


async def test_redirects_are_not_followed(make_gateway, make_sink):
    gateway = await make_gateway(retry_schedule=[0])
    target = await make_sink()

    async def redirect(request: web.Request, received: Received) -> web.StreamResponse:
        return web.Response(status=307, headers={"Location": target.url()})

    sink = await make_sink(redirect)
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"])
    await gateway.store(activity())

    await wait_until(lambda: gateway.attempts(subscriber["subscriberId"], "dead"), message="dead")
    assert len(sink.received) == 1
    assert target.received == []


async def test_subscriber_failing_for_disable_after_seconds_is_disabled(make_gateway, make_sink):
    gateway = await make_gateway(retry_schedule=[0, 0.05, 0.05, 0.05, 0.05])
    sink = await make_sink(answer_500)
    subscriber = await gateway.create_subscriber(
        url=sink.url(), events=["*"], disableAfterSeconds=0.04
    )
    subscriber_id = subscriber["subscriberId"]
    await gateway.store(activity())

    async def disabled() -> bool:
        return not (await gateway.subscriber(subscriber_id))["enabled"]

    await wait_until(disabled, message="the subscriber to be disabled")
    assert (await gateway.subscriber(subscriber_id))["disabledReason"] == "failing"
    assert 2 <= len(sink.received) < 5


async def test_a_success_ends_a_run_of_failures(make_gateway, make_sink):
    gateway = await make_gateway(retry_schedule=[0, 0.05, 0.05])
    answers = [500, 200, 500, 200]

    async def alternate(request: web.Request, received: Received) -> web.StreamResponse:
        return web.Response(status=answers.pop(0) if answers else 200)

    sink = await make_sink(alternate)
    subscriber = await gateway.create_subscriber(
        url=sink.url(), events=["*"], disableAfterSeconds=0.3
    )
    subscriber_id = subscriber["subscriberId"]
    await gateway.store(activity(conversation="a"))
    await wait_until(lambda: len(sink.received) == 2, message="the first delivery's retry")
    await asyncio.sleep(0.35)  # longer than disableAfterSeconds since the first failure
    await gateway.store(activity(conversation="b"))

    await wait_until(lambda: len(sink.received) == 4, message="the second delivery's retry")
    assert (await gateway.subscriber(subscriber_id))["enabled"] is True


async def test_a_huge_response_body_is_not_read_and_still_succeeds(make_gateway, make_sink):
    gateway = await make_gateway()

    async def huge(request: web.Request, received: Received) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        await response.prepare(request)
        for _ in range(64):
            await response.write(b"x" * 65536)
        return response

    sink = await make_sink(huge)
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"])
    await gateway.store(activity())
    await wait_until(lambda: gateway.attempts(subscriber["subscriberId"], "succeeded"))
    assert len(sink.received) == 1
