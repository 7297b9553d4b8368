"""`POST /subscribers/{id}/test`: an example event of a type, signed in the subscriber's
format, sent now to the real endpoint; answered with the attempt, stored nowhere."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook as StandardWebhook

import signing
from gateway.events.model import ActivityEvent
from gateway.subscribers.views import ExampleAttempt
from tests.delivery.support import AUTH, Received, queue_depth
from tests.delivery.test_ssrf import PUBLIC, FakeDns, rebound_subscriber


async def _test(gateway: Any, subscriber_id: str, body: Any = None) -> tuple[int, Any]:
    kwargs = {} if body is None else {"json": body}
    response = await gateway.client.post(
        f"/subscribers/{subscriber_id}/test", headers=AUTH, **kwargs
    )
    return response.status, await response.json()


async def test_a_test_event_verifies_with_standardwebhooks(make_gateway, make_sink):
    async def answer(request: web.Request, received: Received) -> web.Response:
        return web.Response(status=200, text="thanks, got " + request.headers["webhook-id"])

    sink = await make_sink(answer)
    gateway = await make_gateway()
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["receipt"])

    status, attempt = await _test(gateway, subscriber["subscriberId"])

    assert status == 200
    [received] = sink.received
    payload = StandardWebhook(subscriber["secret"]).verify(received.body, received.headers)
    assert payload["type"] == "message:customer"  # an empty body asks for one
    assert payload["id"] == attempt["eventId"] == received.headers["webhook-id"]
    assert payload["id"].startswith("example-")
    assert payload["data"] == {"example": True}
    ActivityEvent.model_validate(payload)
    ExampleAttempt.model_validate(attempt)
    assert attempt["attempt"] == 1
    assert attempt["status"] == "succeeded"
    assert attempt["responseStatus"] == 200
    assert attempt["error"] is None
    assert attempt["nextAttemptAt"] is None
    assert attempt["responseExcerpt"] == "thanks, got " + payload["id"]
    assert 0 < attempt["latencyMs"] < 5000


@pytest.mark.parametrize(
    "event_type",
    ["message:agent", "receipt:delivered", "event:typing_on", "consent:optout", "message:system"],
)
async def test_each_type_of_the_vocabulary_has_an_example(make_gateway, make_sink, event_type):
    sink = await make_sink()
    gateway = await make_gateway()
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"], hubIds=["h1"])

    status, attempt = await _test(gateway, subscriber["subscriberId"], {"eventType": event_type})

    assert status == 200, attempt
    [received] = sink.received
    payload = StandardWebhook(subscriber["secret"]).verify(received.body, received.headers)
    event = ActivityEvent.model_validate(payload)
    assert event.type == event_type
    assert event.hub_id == "h1"  # a hub the subscriber takes
    family = event_type.partition(":")[0]
    assert (event.message is not None) == (family == "message")
    assert (event.receipt is not None) == (family == "receipt")
    assert (event.event is not None) == (family == "event")
    assert attempt["responseStatus"] == 204
    assert attempt["responseExcerpt"] == ""


async def test_nothing_enters_the_log_the_queue_or_deliveries(make_gateway, make_sink):
    sink = await make_sink()
    gateway = await make_gateway()
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"])
    subscriber_id = subscriber["subscriberId"]
    last_before = await gateway.engine.events.last_id()

    for _ in range(3):
        status, _attempt = await _test(gateway, subscriber_id, {"eventType": "event:seen"})
        assert status == 200

    assert len(sink.received) == 3
    # The event log is as empty as before, so the enqueuer has nothing to deliver later.
    assert await gateway.engine.events.last_id() == last_before
    assert await gateway.engine.events.read_after(last_before, 10) == []
    assert await queue_depth(gateway.engine) == 0
    assert await gateway.attempts(subscriber_id) == []
    assert await gateway.attempts(subscriber_id, "dead") == []


async def test_the_hubster_format_is_signed_with_the_key_pair(make_gateway, make_sink):
    sink = await make_sink()
    gateway = await make_gateway()
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"], format="hubster")

    status, attempt = await _test(
        gateway, subscriber["subscriberId"], {"eventType": "receipt:read"}
    )

    assert status == 200 and attempt["status"] == "succeeded"
    [received] = sink.received
    signing.hubster.verify(
        received.body,
        received.headers[signing.hubster.SIGNATURE_HEADER],
        [subscriber["privateSigningKey"]],
    )
    assert received.headers["x-hubster-public-key"] == subscriber["publicSigningKey"]
    body = received.json()
    assert body["activities"][0]["event"]["payloadType"] == "receipt:read"


async def test_what_the_subscriber_answers_is_reported_not_retried(make_gateway, make_sink):
    async def refuse(request: web.Request, received: Received) -> web.Response:
        return web.json_response({"error": "nope"}, status=503)

    sink = await make_sink(refuse)
    gateway = await make_gateway()
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"])

    status, attempt = await _test(gateway, subscriber["subscriberId"])

    assert status == 200
    assert attempt["status"] == "failed"
    assert attempt["responseStatus"] == 503
    assert attempt["responseExcerpt"] == '{"error": "nope"}'
    assert attempt["nextAttemptAt"] is None
    assert (await gateway.subscriber(subscriber["subscriberId"]))["enabled"] is True
    assert len(sink.received) == 1


async def test_an_endpoint_that_does_not_answer_is_a_failed_attempt(make_gateway, make_sink):
    sink = await make_sink()
    gateway = await make_gateway(delivery_timeout_seconds=0.3)
    sink.respond = sink.hang
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"])

    status, attempt = await _test(gateway, subscriber["subscriberId"])

    assert status == 200
    assert attempt["status"] == "failed"
    assert attempt["responseStatus"] is None
    assert attempt["responseExcerpt"] is None
    assert "timed out" in attempt["error"]
    assert attempt["latencyMs"] >= 300


async def test_the_ssrf_guard_holds_for_test_sends(make_gateway, make_sink):
    sink = await make_sink()
    dns = FakeDns([PUBLIC])
    gateway = await make_gateway(allow_private_targets=False, resolver=dns)
    subscriber = await rebound_subscriber(gateway, sink, dns)

    status, attempt = await _test(gateway, subscriber["subscriberId"])

    assert status == 200
    assert attempt["status"] == "failed"
    assert attempt["responseStatus"] is None
    assert "refused" in attempt["error"]
    assert sink.received == []


@pytest.mark.parametrize(
    "body",
    [
        {"eventType": "message"},
        {"eventType": "*"},
        {"eventType": "message:robot"},
        {"eventType": "consent:maybe"},
        {"eventType": "bogus:thing"},
        {"eventType": "receipt:Delivered"},
        {"eventType": 5},
        {"eventType": "message:customer", "extra": 1},
    ],
)
async def test_an_unknown_event_type_is_invalid_payload(make_gateway, make_sink, body):
    sink = await make_sink()
    gateway = await make_gateway()
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"])

    status, error = await _test(gateway, subscriber["subscriberId"], body)

    assert status == 400
    assert error["error"]["code"] == "invalid_payload"
    assert sink.received == []


async def test_whitespace_is_not_an_absent_body(make_gateway, make_sink):
    """Found by schemathesis: `\r\n\r\n` was taken for an empty body and sent."""
    sink = await make_sink()
    gateway = await make_gateway()
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"])
    response = await gateway.client.post(
        f"/subscribers/{subscriber['subscriberId']}/test",
        data=b"\r\n\r\n",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_json"
    assert sink.received == []


async def test_an_unknown_subscriber_is_404_and_the_admin_key_is_needed(make_gateway):
    gateway = await make_gateway()
    response = await gateway.client.post("/subscribers/nobody/test", headers=AUTH)
    assert response.status == 404
    response = await gateway.client.post("/subscribers/nobody/test")
    assert response.status == 401
