"""The commands' pure parts: signed provider requests checked with the verifiers, tail's line
format and URLs."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

import signing
from gateway.commands import CommandError
from gateway.commands.tail import event_line, websocket_url
from gateway.commands.webhook_request import Integration, WebhookRequest, webhook_request

URL = "https://gw.example.com/webhooks/int-1"
NOW = 1_800_000_000


def _request(
    kind: str, configuration: dict[str, str], body: bytes, key: str | None = None
) -> WebhookRequest:
    return webhook_request(
        Integration("int-1", kind, configuration),
        body,
        post_url="http://127.0.0.1:8080/webhooks/int-1",
        signed_url=URL,
        key=key,
        now=NOW,
    )


def test_twilio_form_is_signed_over_the_public_url_and_every_field() -> None:
    body = b"Body=a&Body=b&From=%2B1&MessageSid=SM1\n"
    request = _request("twilio", {"authToken": "tok"}, body)
    assert request.body == b"Body=a&Body=b&From=%2B1&MessageSid=SM1"
    assert request.url == "http://127.0.0.1:8080/webhooks/int-1"
    params = {"Body": ["a", "b"], "From": ["+1"], "MessageSid": ["SM1"]}
    signature = request.headers["X-Twilio-Signature"]
    signing.twilio.verify(URL, params, signature, ["tok"])


def test_twilio_json_carries_its_body_hash_in_the_url() -> None:
    body = b'{"MessageSid": "SM1", "Body": "hi"}'
    request = _request("twilio", {"authToken": "tok"}, body)
    query = urlsplit(request.url).query
    assert parse_qs(query)["bodySHA256"] == [signing.twilio.body_sha256(body)]
    signature = request.headers["X-Twilio-Signature"]
    signing.twilio.verify_json(f"{URL}?{query}", body, signature, ["tok"])


def test_standard_webhook_id_follows_the_body_and_verifies() -> None:
    secret = signing.standard.generate_secret()
    first = _request("standard", {"secret": secret}, b'{"type": "a"}')
    again = _request("standard", {"secret": secret}, b'{"type": "a"}')
    other = _request("standard", {"secret": secret}, b'{"type": "b"}')
    headers = first.headers
    assert headers["webhook-id"] == again.headers["webhook-id"]
    assert headers["webhook-id"] != other.headers["webhook-id"]
    signing.standard.verify(headers, b'{"type": "a"}', [secret], now=lambda: NOW)


def test_hubster_and_telnyx_verify() -> None:
    pair = signing.hubster.generate_key_pair()
    configuration = {
        "publicSigningKey": pair.public_signing_key,
        "privateSigningKey": pair.private_signing_key,
    }
    hubster = _request("hubster-direct", configuration, b"{}")
    headers = hubster.headers
    assert headers["x-hubster-public-key"] == pair.public_signing_key
    signing.hubster.verify(b"{}", headers["x-hubster-signature"], [pair.private_signing_key])

    telnyx_pair = signing.telnyx.generate_key_pair()
    telnyx = _request(
        "telnyx", {"publicKey": telnyx_pair.public_key}, b"{}", telnyx_pair.private_key
    )
    signing.telnyx.verify(telnyx.headers, b"{}", telnyx_pair.public_key, now=lambda: NOW)


def test_scg_basic_before_bearer() -> None:
    basic = _request("scg", {"username": "u", "password": "p", "bearerToken": "t"}, b"{}")
    assert basic.headers["Authorization"] == "Basic dTpw"
    bearer = _request("scg", {"bearerToken": "t"}, b"{}")
    assert bearer.headers["Authorization"] == "Bearer t"


@pytest.mark.parametrize(
    ("kind", "configuration", "body", "expected"),
    [
        ("twilio", {"authToken": "t"}, b"not=a=form&&", "a twilio body must be"),
        ("hubster-system", {}, b"{}", "has no privateSigningKey"),
        ("email", {}, b"{}", "cannot sign for integration kind 'email'"),
    ],
)
def test_what_cannot_be_signed(
    kind: str, configuration: dict[str, str], body: bytes, expected: str
) -> None:
    with pytest.raises(CommandError, match=expected):
        _request(kind, configuration, body)


def test_event_lines() -> None:
    base = {"id": "0000000000001-000000", "conversationId": "c1"}
    message = {**base, "type": "message:customer", "message": {"type": "text", "text": "a\nb  c"}}
    image = {**base, "type": "message:agent", "message": {"type": "image", "url": "u"}}
    receipt = {**base, "type": "receipt:failed", "message": None,
               "receipt": {"state": "failed", "messageId": "m1"}}  # fmt: skip
    typing = {**base, "type": "event:typing_on", "message": None, "receipt": None,
              "event": {"type": "typing_on"}}  # fmt: skip
    consent = {**base, "conversationId": None, "type": "consent:optout", "message": None,
               "receipt": None, "event": None, "data": {"keyword": "STOP"}}  # fmt: skip
    assert [event_line(e) for e in (message, image, receipt, typing, consent)] == [
        "0000000000001-000000 message:customer c1 a b c",
        "0000000000001-000000 message:agent c1 [image]",
        "0000000000001-000000 receipt:failed c1 failed m1",
        "0000000000001-000000 event:typing_on c1 typing_on",
        "0000000000001-000000 consent:optout - STOP",
    ]


def test_websocket_url_of_a_gateway_url() -> None:
    assert websocket_url("http://127.0.0.1:8080") == "ws://127.0.0.1:8080/ws"
    assert websocket_url("https://events.example.com/base/") == "wss://events.example.com/base/ws"
