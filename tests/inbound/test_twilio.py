"""Twilio: form and JSON callbacks, signed over the URL the provider called."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from inbound_support import Gateway, GatewayFactory, twilio_form_headers

import signing
from gateway.events.model import ActivityEvent
from gateway.inbound.sms import thread_conversation_id

TOKEN = "twilio-auth-token-1"
INBOUND = {
    "MessageSid": "SM0001",
    "AccountSid": "AC1",
    "From": "+14085551212",
    "To": "+15005550006",
    "Body": "Hola, ¿dónde está? 😀",
    "NumMedia": "2",
    "MediaUrl0": "https://api.twilio.com/m0",
    "MediaContentType0": "image/jpeg",
    "MediaUrl1": "https://api.twilio.com/m1",
    "MediaContentType1": "application/pdf",
}


async def test_inbound_sms_with_media(gateway: Gateway) -> None:
    integration = await gateway.create("twilio", "sms-hub", configuration={"authToken": TOKEN})
    path = f"/webhooks/{integration['integrationId']}"
    body = urlencode(INBOUND).encode()
    response = await gateway.post(
        integration, body, twilio_form_headers(gateway.url(path), body, TOKEN)
    )
    assert response.status == 202, await response.text()
    [stored] = await gateway.stored()
    assert stored["type"] == "message:customer"
    assert stored["channel"] == "SMS"
    assert stored["message"] == {
        "type": "text",
        "text": INBOUND["Body"],
        "attachments": [
            {"type": "attachment", "url": "https://api.twilio.com/m0", "mimeType": "image/jpeg"},
            {
                "type": "attachment",
                "url": "https://api.twilio.com/m1",
                "mimeType": "application/pdf",
            },
        ],
    }
    assert stored["sender"]["address"] == "+14085551212"
    assert stored["data"] == {"AccountSid": "AC1"}
    assert stored["conversationId"] == thread_conversation_id(
        "sms-hub", "+14085551212", "+15005550006"
    )


async def post_status(
    gateway: Gateway, integration: dict[str, Any], sid: str, status: str
) -> dict[str, Any]:
    """A correctly signed Twilio status callback; the gateway's JSON answer."""
    url = gateway.url(f"/webhooks/{integration['integrationId']}")
    fields = {"MessageSid": sid, "MessageStatus": status, "From": "+1500", "To": "+1408"}
    body = urlencode(fields).encode()
    response = await gateway.post(integration, body, twilio_form_headers(url, body, TOKEN))
    answer: dict[str, Any] = await response.json()
    return answer


async def test_status_callbacks_are_receipts_deduplicated_per_status(gateway: Gateway) -> None:
    integration = await gateway.create("twilio", configuration={"authToken": TOKEN})
    results = [
        await post_status(gateway, integration, "SM9", status)
        for status in ("sent", "delivered", "delivered")
    ]
    assert results[2] == {"accepted": 0, "duplicates": 1}
    stored = await gateway.stored()
    assert [item["type"] for item in stored] == ["receipt:sent", "receipt:delivered"]
    assert stored[1]["receipt"]["messageId"] == "SM9"


async def test_public_url_is_what_the_signature_covers(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(public_url="https://gw.example.com/")
    integration = await gateway.create("twilio", configuration={"authToken": TOKEN})
    query = "?x=1"
    public = f"https://gw.example.com/webhooks/{integration['integrationId']}{query}"
    body = urlencode(INBOUND).encode()
    response = await gateway.post(
        integration, body, twilio_form_headers(public, body, TOKEN), query
    )
    assert response.status == 202
    local = gateway.url(f"/webhooks/{integration['integrationId']}{query}")
    response = await gateway.post(integration, body, twilio_form_headers(local, body, TOKEN), query)
    assert response.status == 403


@pytest.mark.parametrize("form", ["x-forwarded", "forwarded"])
async def test_behind_a_trusted_proxy_the_url_the_provider_called_is_checked(
    make_gateway: GatewayFactory, form: str
) -> None:
    """The proxy terminated TLS for https://events.example: the provider signed that URL,
    and only a trusted proxy is believed about it (`GATEWAY_PUBLIC_URL` still wins)."""
    trusting = await make_gateway(trusted_proxies=["127.0.0.1"])
    integration = await trusting.create("twilio", configuration={"authToken": TOKEN})
    path = f"/webhooks/{integration['integrationId']}"
    body = urlencode(INBOUND).encode()
    signed = twilio_form_headers(f"https://events.example{path}", body, TOKEN)
    if form == "forwarded":
        proxy = {"Forwarded": "for=198.51.100.1;proto=https;host=events.example"}
    else:
        proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "events.example"}
    response = await trusting.post(integration, body, {**signed, **proxy})
    assert response.status == 202, await response.text()

    distrusting = await make_gateway(trusted_proxies=["10.0.0.0/8"])
    integration = await distrusting.create("twilio", configuration={"authToken": TOKEN})
    path = f"/webhooks/{integration['integrationId']}"
    signed = twilio_form_headers(f"https://events.example{path}", body, TOKEN)
    response = await distrusting.post(integration, body, {**signed, **proxy})
    assert response.status == 403

    configured = await make_gateway(
        trusted_proxies=["127.0.0.1"], public_url="https://gw.example.com"
    )
    integration = await configured.create("twilio", configuration={"authToken": TOKEN})
    path = f"/webhooks/{integration['integrationId']}"
    signed = twilio_form_headers(f"https://events.example{path}", body, TOKEN)
    response = await configured.post(integration, body, {**signed, **proxy})
    assert response.status == 403
    signed = twilio_form_headers(f"https://gw.example.com{path}", body, TOKEN)
    response = await configured.post(integration, body, {**signed, **proxy})
    assert response.status == 202


async def test_json_body_signed_with_body_sha256(gateway: Gateway) -> None:
    integration = await gateway.create("twilio", configuration={"authToken": TOKEN})
    body = orjson.dumps(INBOUND | {"MessageSid": "SMjson"})
    query = "?bodySHA256=" + signing.twilio.body_sha256(body)
    url = gateway.url(f"/webhooks/{integration['integrationId']}{query}")
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Signature": signing.twilio.sign(url, None, TOKEN),
    }
    response = await gateway.post(integration, body, headers, query)
    assert response.status == 202, await response.text()
    tampered = body.replace(b"Hola", b"Hole")
    response = await gateway.post(integration, tampered, headers, query)
    assert response.status == 403


async def test_stop_keyword_also_yields_consent(gateway: Gateway) -> None:
    integration = await gateway.create("twilio", configuration={"authToken": TOKEN})
    url = gateway.url(f"/webhooks/{integration['integrationId']}")
    body = urlencode({"MessageSid": "SMstop", "From": "+1", "To": "+2", "Body": " Stop"}).encode()
    response = await gateway.post(integration, body, twilio_form_headers(url, body, TOKEN))
    assert await response.json() == {"accepted": 2, "duplicates": 0}
    assert [item["type"] for item in await gateway.stored()] == [
        "message:customer",
        "consent:optout",
    ]


async def test_wrong_token_is_403_and_missing_signature_401(gateway: Gateway) -> None:
    integration = await gateway.create("twilio", configuration={"authToken": TOKEN})
    url = gateway.url(f"/webhooks/{integration['integrationId']}")
    body = urlencode(INBOUND).encode()
    response = await gateway.post(integration, body, twilio_form_headers(url, body, "wrong"))
    assert (response.status, (await response.json())["error"]["code"]) == (403, "signature_invalid")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await gateway.post(integration, body, headers)
    assert (response.status, (await response.json())["error"]["code"]) == (401, "unauthorized")


async def test_form_with_too_many_fields_is_refused_before_hashing(gateway: Gateway) -> None:
    integration = await gateway.create("twilio", configuration={"authToken": TOKEN})
    body = "&".join(f"f{i}=x" for i in range(1001)).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "AAAA"}
    response = await gateway.post(integration, body, headers)
    assert (response.status, (await response.json())["error"]["code"]) == (413, "payload_too_large")


async def test_json_status_with_odd_error_fields_stores_a_schema_valid_event(
    gateway: Gateway,
) -> None:
    integration = await gateway.create("twilio", configuration={"authToken": TOKEN})
    fields = {
        "MessageSid": "SModd",
        "MessageStatus": "failed",
        "From": "+1500",
        "To": "+1408",
        "ErrorCode": 30003,
        "ErrorMessage": {"detail": "unreachable"},
        "Price": [1],
    }
    body = orjson.dumps(fields)
    query = "?bodySHA256=" + signing.twilio.body_sha256(body)
    url = gateway.url(f"/webhooks/{integration['integrationId']}{query}")
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Signature": signing.twilio.sign(url, None, TOKEN),
    }
    response = await gateway.post(integration, body, headers, query)
    assert response.status == 202, await response.text()
    [stored] = await gateway.engine.events.read_after("0", 10)
    event = ActivityEvent.model_validate_json(stored.payload)
    assert event.receipt is not None and event.receipt.reason_code == "30003"
    data = orjson.loads(stored.payload)["data"]
    assert data["ErrorMessage"] == {"detail": "unreachable"} and data["Price"] == [1]


async def test_status_case_does_not_make_a_second_receipt(gateway: Gateway) -> None:
    integration = await gateway.create("twilio", configuration={"authToken": TOKEN})
    answers = [
        await post_status(gateway, integration, "SMcase", status)
        for status in ("delivered", "Delivered", "DELIVERED")
    ]
    assert answers[1:] == [{"accepted": 0, "duplicates": 1}] * 2
    assert [item["type"] for item in await gateway.stored()] == ["receipt:delivered"]


async def test_repeated_body_field_is_invalid(gateway: Gateway) -> None:
    integration = await gateway.create("twilio", configuration={"authToken": TOKEN})
    url = gateway.url(f"/webhooks/{integration['integrationId']}")
    body = b"MessageSid=SMrep&From=%2B1&To=%2B2&Body=a&Body=b"
    response = await gateway.post(integration, body, twilio_form_headers(url, body, TOKEN))
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_payload" and error["message"].startswith("Body:")
    assert await gateway.stored() == []


async def test_json_body_null_is_an_empty_text(gateway: Gateway) -> None:
    integration = await gateway.create("twilio", configuration={"authToken": TOKEN})
    body = orjson.dumps({"MessageSid": "SMnull", "From": "+1", "To": "+2", "Body": None})
    query = "?bodySHA256=" + signing.twilio.body_sha256(body)
    url = gateway.url(f"/webhooks/{integration['integrationId']}{query}")
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Signature": signing.twilio.sign(url, None, TOKEN),
    }
    response = await gateway.post(integration, body, headers, query)
    assert response.status == 202, await response.text()
    assert (await gateway.stored())[0]["message"] == {"type": "text", "text": ""}


async def test_unicode_look_alike_of_stop_is_no_consent(gateway: Gateway) -> None:
    integration = await gateway.create("twilio", configuration={"authToken": TOKEN})
    url = gateway.url(f"/webhooks/{integration['integrationId']}")
    body = urlencode({"MessageSid": "SMs", "From": "+1", "To": "+2", "Body": "\u017ftop"}).encode()
    response = await gateway.post(integration, body, twilio_form_headers(url, body, TOKEN))
    assert await response.json() == {"accepted": 1, "duplicates": 0}
