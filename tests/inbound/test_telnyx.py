"""Telnyx: Ed25519-signed messaging webhooks, through the real HTTP server. Signatures are
made with `cryptography` directly (inbound_support.telnyx_headers), not with `signing`."""

from __future__ import annotations

import copy
import time
from typing import Any

import orjson
import pytest
from inbound_support import (
    ADMIN,
    KIND_CONFIG,
    TELNYX_OTHER_PUBLIC_KEY,
    Gateway,
    fixture_bytes,
    scg_headers,
    telnyx_headers,
)

from gateway.events.model import ActivityEvent
from gateway.inbound.sms import thread_conversation_id

RECEIVED = orjson.loads(fixture_bytes("telnyx-message-received.json"))
SENT = orjson.loads(fixture_bytes("telnyx-message-sent.json"))
FINALIZED = orjson.loads(fixture_bytes("telnyx-message-finalized.json"))
CUSTOMER, BUSINESS = "+18665550001", "+18445550001"  # the pair of the received/sent fixtures


def edited(document: dict[str, Any], **data: Any) -> dict[str, Any]:
    """A copy of a Telnyx body with members of `data` (and of `data.payload`) replaced."""
    body = copy.deepcopy(document)
    payload = data.pop("payload", {})
    body["data"].update(data)
    body["data"]["payload"].update(payload)
    return body


async def telnyx(gateway: Gateway) -> dict[str, Any]:
    return await gateway.create(
        "telnyx", "sms-hub", "acme", configuration=dict(KIND_CONFIG["telnyx"])
    )


async def post(
    gateway: Gateway, integration: dict[str, Any], body: bytes | dict[str, Any], **signing: Any
) -> tuple[int, dict[str, Any]]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    response = await gateway.post(integration, raw, telnyx_headers(raw, integration, **signing))
    return response.status, await response.json()


def error(answer: tuple[int, dict[str, Any]]) -> tuple[int, str, str]:
    status, body = answer
    return status, body["error"]["code"], body["error"]["message"]


async def test_one_sms_thread_is_one_conversation_whichever_provider_carried_it(
    gateway: Gateway,
) -> None:
    """The inbound message, the receipt of the reply, and an SCG MO between the same two
    numbers in the same hub all land in the conversation of that address pair."""
    integration = await telnyx(gateway)
    assert (await post(gateway, integration, RECEIVED))[0] == 202
    assert (await post(gateway, integration, SENT))[0] == 202
    scg = await gateway.create("scg", "sms-hub", "acme")
    mo = orjson.loads(fixture_bytes("scg-mo-message.json"))
    mo["event"]["fld-val-list"].update(from_address=CUSTOMER, to_address=BUSINESS)
    response = await gateway.post(scg, orjson.dumps(mo), scg_headers(scg))
    assert response.status == 202, await response.text()
    message, receipt, scg_message = await gateway.stored()
    thread = thread_conversation_id("sms-hub", CUSTOMER, BUSINESS)
    assert message["conversationId"] == receipt["conversationId"] == thread
    assert scg_message["conversationId"] == thread


async def test_redelivery_is_a_duplicate_whatever_its_attempt(gateway: Gateway) -> None:
    integration = await telnyx(gateway)
    assert await post(gateway, integration, RECEIVED) == (202, {"accepted": 1, "duplicates": 0})
    again = {**RECEIVED, "meta": {"attempt": 2, "delivered_to": "https://failover.example"}}
    assert await post(gateway, integration, again) == (202, {"accepted": 0, "duplicates": 1})
    [stored] = await gateway.stored()
    assert stored["source"]["attempt"] == 1
    assert await gateway.metric("gateway_duplicates_total") == 1
    assert await gateway.metric('gateway_webhooks_total{kind="telnyx",outcome="duplicate"}') == 1


async def test_dedup_key_is_the_event_id_with_its_type(gateway: Gateway) -> None:
    integration = await telnyx(gateway)
    finalized = edited(FINALIZED, id=SENT["data"]["id"])
    assert (await post(gateway, integration, SENT))[1] == {"accepted": 1, "duplicates": 0}
    assert (await post(gateway, integration, finalized))[1] == {"accepted": 1, "duplicates": 0}
    other_integration = await telnyx(gateway)
    assert (await post(gateway, other_integration, SENT))[1] == {"accepted": 1, "duplicates": 0}


@pytest.mark.parametrize(
    ("meta", "attempt"),
    [
        ({"attempt": 3}, 3),
        ({"attempt": "2"}, 2),
        ({"attempt": " 4 "}, 4),
        ({"attempt": "x"}, 1),
        ({"attempt": 0}, 1),
        ({"attempt": True}, 1),
        ({"attempt": 2**40}, 1),
        ({"attempt": None}, 1),
        ({}, 1),
        ("not an object", 1),
        (None, 1),
    ],
)
async def test_attempt_is_meta_attempt_when_it_is_a_number(
    gateway: Gateway, meta: Any, attempt: int
) -> None:
    integration = await telnyx(gateway)
    body = {**RECEIVED, "meta": meta}
    assert (await post(gateway, integration, body))[0] == 202
    assert (await gateway.stored())[0]["source"]["attempt"] == attempt


@pytest.mark.parametrize(
    ("occurred_at", "expected"),
    [
        ("2019-12-09T21:32:14.148+00:00", "2019-12-09T21:32:14.148Z"),
        ("2025-11-23T05:30:00.076316+02:00", "2025-11-23T03:30:00.076Z"),
        ("2025-11-23T03:30:00Z", "2025-11-23T03:30:00.000Z"),
    ],
)
async def test_occurred_at_is_normalised_to_utc(
    gateway: Gateway, occurred_at: str, expected: str
) -> None:
    integration = await telnyx(gateway)
    assert (await post(gateway, integration, edited(FINALIZED, occurred_at=occurred_at)))[0] == 202
    assert (await gateway.stored())[0]["occurredAt"] == expected


async def test_missing_occurred_at_is_the_receive_time(gateway: Gateway) -> None:
    integration = await telnyx(gateway)
    body = copy.deepcopy(FINALIZED)
    del body["data"]["occurred_at"]
    assert (await post(gateway, integration, body))[0] == 202
    [stored] = await gateway.stored()
    assert stored["occurredAt"] == stored["receivedAt"]


async def test_failed_receipt_carries_the_first_error_and_the_price(gateway: Gateway) -> None:
    integration = await telnyx(gateway)
    errors = [
        {"code": "40008", "title": "Undeliverable", "detail": "The carrier refused it."},
        {"code": "40300", "title": "Blocked due to STOP message"},
    ]
    recipient = {**FINALIZED["data"]["payload"]["to"][0], "status": "DELIVERY_FAILED"}
    body = edited(
        FINALIZED,
        payload={"to": [recipient], "errors": errors, "cost": {"amount": 0.004, "currency": "EUR"}},
    )
    assert (await post(gateway, integration, body))[0] == 202
    [stored] = await gateway.stored()
    assert stored["type"] == "receipt:delivery_failed"
    assert stored["receipt"] == {
        "messageId": FINALIZED["data"]["payload"]["id"],
        "state": "delivery_failed",
        "previousState": None,
        "reasonCode": "40008",
        "reasonDescription": "Undeliverable",
        "price": 0.004,
    }
    assert stored["data"]["errors"] == errors
    assert stored["data"]["cost"] == {"amount": 0.004, "currency": "EUR"}


async def test_error_without_title_is_described_by_its_detail(gateway: Gateway) -> None:
    integration = await telnyx(gateway)
    body = edited(FINALIZED, payload={"errors": [{"code": 40001, "detail": "Not routable."}]})
    assert (await post(gateway, integration, body))[0] == 202
    receipt = (await gateway.stored())[0]["receipt"]
    assert (receipt["reasonCode"], receipt["reasonDescription"]) == ("40001", "Not routable.")


async def test_odd_error_and_cost_members_still_make_a_schema_valid_event(
    gateway: Gateway,
) -> None:
    integration = await telnyx(gateway)
    odd = edited(FINALIZED, payload={"errors": [{"code": {"x": 1}}], "cost": {"amount": True}})
    assert (await post(gateway, integration, odd))[0] == 202
    [stored] = await gateway.engine.events.read_after("0", 10)
    event = ActivityEvent.model_validate_json(stored.payload)
    assert event.receipt is not None
    assert (event.receipt.reason_code, event.receipt.price) == (None, None)
    assert orjson.loads(stored.payload)["data"]["errors"] == [{"code": {"x": 1}}]


async def test_inbound_mms_media_become_attachments(gateway: Gateway) -> None:
    integration = await telnyx(gateway)
    media = [
        {"url": "https://media.example/a.jpg", "content_type": "image/jpeg", "size": 1},
        {"url": "https://media.example/b", "content_type": None},
    ]
    body = edited(RECEIVED, payload={"type": "MMS", "media": media})
    assert (await post(gateway, integration, body))[0] == 202
    [stored] = await gateway.stored()
    assert stored["channel"] == "SMS"
    assert stored["message"]["attachments"] == [
        {"type": "attachment", "url": "https://media.example/a.jpg", "mimeType": "image/jpeg"},
        {"type": "attachment", "url": "https://media.example/b", "mimeType": None},
    ]
    assert "media" not in stored["data"]


async def test_group_message_keeps_its_other_recipients_in_data(gateway: Gateway) -> None:
    integration = await telnyx(gateway)
    recipients = [{"phone_number": BUSINESS}, {"phone_number": "+18445550002"}]
    body = edited(RECEIVED, payload={"to": recipients})
    assert (await post(gateway, integration, body))[0] == 202
    [stored] = await gateway.stored()
    assert stored["recipient"]["address"] == BUSINESS
    assert stored["data"]["to"] == recipients


async def test_stop_keyword_also_yields_consent(gateway: Gateway) -> None:
    integration = await telnyx(gateway)
    body = edited(RECEIVED, payload={"text": " stop "})
    assert (await post(gateway, integration, body))[1] == {"accepted": 2, "duplicates": 0}
    message, consent = await gateway.stored()
    assert consent["type"] == "consent:optout"
    assert consent["data"] == {"keyword": "STOP", "messageId": RECEIVED["data"]["payload"]["id"]}
    assert consent["conversationId"] == message["conversationId"]
    assert (await post(gateway, integration, body))[1] == {"accepted": 0, "duplicates": 2}


@pytest.mark.parametrize(
    ("event_type", "payload", "data"),
    [
        (
            "call.initiated",
            {"call_control_id": "v3:abc", "from": "+18124040851", "to": "+13057864498"},
            {"call_control_id": "v3:abc", "from": "+18124040851", "to": "+13057864498"},
        ),
        ("number_order.complete", ["not", "an", "object"], {"payload": ["not", "an", "object"]}),
        ("message.unknown_future_event", None, {}),
    ],
)
async def test_other_event_types_are_generic_events(
    gateway: Gateway, event_type: str, payload: Any, data: dict[str, Any]
) -> None:
    integration = await telnyx(gateway)
    body = {
        "data": {"id": "evt-1", "event_type": event_type, "payload": payload},
        "meta": {"attempt": 1},
    }
    assert (await post(gateway, integration, body))[0] == 202
    [stored] = await gateway.stored()
    assert stored["type"] == f"event:{event_type}"
    assert stored["event"] == {"type": event_type}
    assert stored["data"] == data
    assert (stored["conversationId"], stored["channel"], stored["sender"]) == (None, None, None)
    assert stored["source"]["eventId"] == "evt-1"


# --- refusals, in the order the checks run ---------------------------------------------------


async def test_signature_checks_in_order(gateway: Gateway) -> None:
    integration = await telnyx(gateway)
    body = fixture_bytes("telnyx-message-received.json")
    now = int(time.time())
    good = telnyx_headers(body, integration)

    async def refusal(headers: dict[str, str], raw: bytes = body) -> tuple[int, str]:
        response = await gateway.post(integration, raw, headers)
        return response.status, (await response.json())["error"]["code"]

    no_signature = {k: v for k, v in good.items() if k != "telnyx-signature-ed25519"}
    no_timestamp = {k: v for k, v in good.items() if k != "telnyx-timestamp"}
    assert await refusal({"Content-Type": "application/json"}) == (401, "unauthorized")
    assert await refusal(no_signature) == (401, "unauthorized")
    assert await refusal(no_timestamp) == (401, "unauthorized")
    malformed = {**good, "telnyx-signature-ed25519": "not base64!"}
    assert await refusal(malformed) == (403, "signature_invalid")
    assert await refusal({**good, "telnyx-timestamp": "1.5"}) == (403, "signature_invalid")
    stale = telnyx_headers(body, integration, timestamp=now - 400)
    assert await refusal(stale) == (403, "timestamp_out_of_tolerance")
    stale_and_wrong = {**stale, "telnyx-signature-ed25519": good["telnyx-signature-ed25519"]}
    assert await refusal(stale_and_wrong) == (403, "timestamp_out_of_tolerance")
    other_account = telnyx_headers(body, integration, public_key=TELNYX_OTHER_PUBLIC_KEY)
    assert await refusal(other_account) == (403, "signature_invalid")
    signed_elsewhen = {**good, "telnyx-timestamp": str(now - 1)}
    assert await refusal(signed_elsewhen) == (403, "signature_invalid")
    assert await gateway.stored() == []


async def test_signature_covers_the_raw_bytes(gateway: Gateway) -> None:
    integration = await telnyx(gateway)
    body = fixture_bytes("telnyx-message-received.json")
    headers = telnyx_headers(body, integration)
    same_json = orjson.dumps(orjson.loads(body))
    response = await gateway.post(integration, same_json, headers)
    assert (response.status, (await response.json())["error"]["code"]) == (403, "signature_invalid")
    assert (await gateway.post(integration, body, headers)).status == 202


@pytest.mark.parametrize(("offset", "status"), [(-295, 202), (295, 202), (-305, 403), (305, 403)])
async def test_tolerance_is_300_seconds_either_way(
    gateway: Gateway, offset: int, status: int
) -> None:
    integration = await telnyx(gateway)
    body = fixture_bytes("telnyx-message-received.json")
    headers = telnyx_headers(body, integration, timestamp=int(time.time()) + offset)
    response = await gateway.post(integration, body, headers)
    assert response.status == status, await response.text()
    if status == 403:
        assert (await response.json())["error"]["code"] == "timestamp_out_of_tolerance"


async def test_signature_before_json_and_json_before_shape(gateway: Gateway) -> None:
    integration = await telnyx(gateway)
    unsigned = {"Content-Type": "application/json"}
    response = await gateway.post(integration, b"{not json", unsigned)
    assert response.status == 401
    assert error(await post(gateway, integration, b"{not json"))[:2] == (400, "invalid_json")
    assert error(await post(gateway, integration, b"[]"))[:2] == (400, "invalid_payload")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"meta": {"attempt": 1}}, "data"),
        ({"data": {"event_type": "message.received"}}, "data.id"),
        ({"data": {"id": "e1"}}, "data.event_type"),
        (edited(RECEIVED, occurred_at="yesterday"), "data.occurred_at"),
        ({"data": {"id": "e1", "event_type": "message.received"}}, "data.payload"),
        (edited(RECEIVED, payload={"from": "+18665550001"}), "data.payload.from"),
        (edited(RECEIVED, payload={"from": {}}), "data.payload.from.phone_number"),
        (edited(RECEIVED, payload={"to": []}), "data.payload.to"),
        (edited(RECEIVED, payload={"to": ["+1"]}), "data.payload.to.0"),
        (edited(RECEIVED, payload={"text": 5}), "data.payload.text"),
        (edited(SENT, payload={"to": [{"phone_number": CUSTOMER}]}), "data.payload.to.0.status"),
        (
            edited(SENT, payload={"to": [{"phone_number": CUSTOMER, "status": " "}]}),
            "data.payload.to.0.status",
        ),
        (edited(SENT, payload={"to": [{"phone_number": CUSTOMER, "status": "\x1b\r"}]}), "data"),
        (edited(SENT, payload={"id": 7}), "data.payload.id"),
    ],
)
async def test_bad_shape_is_invalid_payload_naming_the_field(
    gateway: Gateway, body: dict[str, Any], field: str
) -> None:
    integration = await telnyx(gateway)
    status, code, message = error(await post(gateway, integration, body))
    assert (status, code) == (400, "invalid_payload")
    assert message.startswith(field), message
    assert await gateway.stored() == []


# --- the integration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "configuration",
    [
        {},
        {"publicKey": ""},
        {"publicKey": "not base64!"},
        {"publicKey": "A" * 42},  # 31 bytes
        {"publicKey": "A" * 44},  # 33 bytes
        {"publicKey": 5},
        {"publicKey": KIND_CONFIG["telnyx"]["publicKey"], "privateKey": "x"},
    ],
    ids=["missing", "empty", "not-base64", "31-bytes", "33-bytes", "number", "unknown-field"],
)
async def test_public_key_is_required_and_must_be_32_bytes(
    gateway: Gateway, configuration: dict[str, Any]
) -> None:
    body = {"name": "t", "kind": "telnyx", "hubId": "h", "configuration": configuration}
    response = await gateway.client.post("/integrations", json=body, headers=ADMIN)
    assert response.status == 400
    problem = (await response.json())["error"]
    assert problem["code"] == "invalid_payload"
    assert problem["message"].startswith("configuration."), problem["message"]
    field = "privateKey" if "privateKey" in configuration else "publicKey"
    assert field in problem["message"]


async def test_keys_are_not_regenerated_but_patched(gateway: Gateway) -> None:
    integration = await telnyx(gateway)
    path = f"/integrations/{integration['integrationId']}"
    response = await gateway.client.patch(path, json={"regenerateKeys": True}, headers=ADMIN)
    assert response.status == 400
    assert (await response.json())["error"]["message"].startswith(
        "regenerateKeys: Telnyx issues the publicKey"
    )
    patched = await gateway.patch(integration, configuration={"publicKey": TELNYX_OTHER_PUBLIC_KEY})
    assert patched["configuration"] == {"publicKey": TELNYX_OTHER_PUBLIC_KEY}
