"""A webhook's checks run in the order the API reference gives (docs/openapi.json,
`POST /webhooks/{integration_id}`): when several fail, the earliest answers."""

from __future__ import annotations

import gzip
import os
import time
from typing import Any

import orjson
import pytest
from inbound_support import KIND_CONFIG, Gateway, GatewayFactory, signed

import signing

LIMIT = 2048
KINDS = list(KIND_CONFIG)
JSON_KINDS = [kind for kind in KINDS if kind != "twilio"]


async def setup(
    make_gateway: GatewayFactory, kind: str, **extra: Any
) -> tuple[Gateway, dict[str, Any]]:
    gateway = await make_gateway(max_body_bytes=LIMIT)
    integration = await gateway.create(kind, configuration=dict(KIND_CONFIG[kind]), **extra)
    return gateway, integration


def webhook_url(gateway: Gateway, integration: dict[str, Any]) -> str:
    return gateway.url(f"/webhooks/{integration['integrationId']}")


async def answer(response: Any) -> tuple[int, str]:
    body = await response.json()
    assert response.headers["UC-REST-ERROR"]
    return response.status, body["error"]["code"]


BAD_SIGNATURE = {
    "x-hubster-signature": "AAAA",
    "Authorization": "Bearer wrong",
    "webhook-id": "m",
    "webhook-timestamp": "1",
    "webhook-signature": "v1,AAAA",
    "X-Twilio-Signature": "AAAA",
    "telnyx-signature-ed25519": "AAAA",
    "telnyx-timestamp": "1",
}
# Kinds whose signature covers a timestamp: a current one, so that the signature is what fails.
TIMESTAMP_HEADERS = {"standard": "webhook-timestamp", "telnyx": "telnyx-timestamp"}
OVERSIZE = b'{"pad": "' + b"x" * (LIMIT * 2) + b'"}'


async def test_unknown_integration_is_404_whatever_else(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(max_body_bytes=LIMIT)
    response = await gateway.post("no-such-integration", OVERSIZE, {"Content-Type": "text/plain"})
    assert await answer(response) == (404, "not_found")


@pytest.mark.parametrize("kind", KINDS)
async def test_paused_before_oversize(make_gateway: GatewayFactory, kind: str) -> None:
    gateway, integration = await setup(make_gateway, kind, statusId=3002)
    headers = {"Content-Type": "text/plain", **BAD_SIGNATURE}
    assert await answer(await gateway.post(integration, OVERSIZE, headers)) == (
        409,
        "integration_paused",
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_oversize_before_media_type_and_signature(
    make_gateway: GatewayFactory, kind: str
) -> None:
    gateway, integration = await setup(make_gateway, kind)
    headers = {"Content-Type": "text/plain", **BAD_SIGNATURE}
    assert await answer(await gateway.post(integration, OVERSIZE, headers)) == (
        413,
        "payload_too_large",
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_oversize_without_content_length(make_gateway: GatewayFactory, kind: str) -> None:
    gateway, integration = await setup(make_gateway, kind)

    async def chunks() -> Any:
        for _ in range(8):
            yield b"x" * 1024

    response = await gateway.client.post(
        f"/webhooks/{integration['integrationId']}",
        data=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert await answer(response) == (413, "payload_too_large")


@pytest.mark.parametrize("kind", KINDS)
async def test_media_type_before_signature(make_gateway: GatewayFactory, kind: str) -> None:
    gateway, integration = await setup(make_gateway, kind)
    response = await gateway.post(integration, b"{}", {"Content-Type": "text/plain"})
    assert await answer(response) == (415, "unsupported_media_type")


@pytest.mark.parametrize("kind", JSON_KINDS)
@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/json", True),
        ("Application/JSON; charset=UTF-8", True),
        ("application/vnd.provider.event+json", True),
        ("application/json; charset=iso-8859-1", False),
        ("application/x-www-form-urlencoded", False),
        ("application/octet-stream", False),
    ],
)
async def test_json_media_types(
    make_gateway: GatewayFactory, kind: str, content_type: str, accepted: bool
) -> None:
    gateway, integration = await setup(make_gateway, kind)
    response = await gateway.post(integration, b"{}", {"Content-Type": content_type})
    _, code = await answer(response)
    assert (code == "unsupported_media_type") is not accepted


@pytest.mark.parametrize("kind", KINDS)
async def test_missing_content_type_is_the_kinds_own(
    make_gateway: GatewayFactory, kind: str
) -> None:
    gateway, integration = await setup(make_gateway, kind)
    url = webhook_url(gateway, integration)
    body = b"MessageSid=SM1&From=%2B1&To=%2B2&Body=hi" if kind == "twilio" else b"not json"
    headers, query = signed(kind, integration, body, url, form=kind == "twilio")
    headers.pop("Content-Type")
    response = await gateway.client.post(
        f"/webhooks/{integration['integrationId']}{query}",
        data=body,
        headers=headers,
        skip_auto_headers={"Content-Type"},
    )
    if kind == "twilio":
        assert response.status == 202, await response.text()
    else:
        assert await answer(response) == (400, "invalid_json")


@pytest.mark.parametrize("kind", KINDS)
async def test_missing_signature_before_parsing(make_gateway: GatewayFactory, kind: str) -> None:
    gateway, integration = await setup(make_gateway, kind)
    response = await gateway.post(integration, b"not json", {"Content-Type": "application/json"})
    assert await answer(response) == (401, "unauthorized")


@pytest.mark.parametrize("kind", KINDS)
async def test_wrong_signature_before_parsing(make_gateway: GatewayFactory, kind: str) -> None:
    gateway, integration = await setup(make_gateway, kind)
    headers = {"Content-Type": "application/json", **BAD_SIGNATURE}
    if kind in TIMESTAMP_HEADERS:
        headers[TIMESTAMP_HEADERS[kind]] = str(int(time.time()))
    expected = (401, "unauthorized") if kind == "scg" else (403, "signature_invalid")
    assert await answer(await gateway.post(integration, b"not json", headers)) == expected


@pytest.mark.parametrize("header", ["AAAA", "v1,not-base64!", "garbage"])
async def test_malformed_standard_signature_is_403(
    make_gateway: GatewayFactory, header: str
) -> None:
    gateway, integration = await setup(make_gateway, "standard")
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "webhook-id": "m",
        "webhook-timestamp": stamp,
        "webhook-signature": header,
    }
    assert await answer(await gateway.post(integration, b"{}", headers)) == (
        403,
        "signature_invalid",
    )


async def test_stale_timestamp_before_parsing(make_gateway: GatewayFactory) -> None:
    gateway, integration = await setup(make_gateway, "standard")
    secret = integration["configuration"]["secret"]
    body = b"not json"
    headers = {
        "Content-Type": "application/json",
        "webhook-id": "m",
        "webhook-timestamp": "1000",
        "webhook-signature": signing.standard.sign("m", 1000, body, [secret]),
    }
    assert await answer(await gateway.post(integration, body, headers)) == (
        403,
        "timestamp_out_of_tolerance",
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_invalid_json_before_shape(make_gateway: GatewayFactory, kind: str) -> None:
    gateway, integration = await setup(make_gateway, kind)
    body = b'{"unterminated": '
    headers, query = signed(kind, integration, body, webhook_url(gateway, integration))
    response = await gateway.post(integration, body, headers, query)
    assert await answer(response) == (400, "invalid_json")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("payload", [[], "text", 1, {"unexpected": True}])
async def test_wrong_shape_is_invalid_payload(
    make_gateway: GatewayFactory, kind: str, payload: Any
) -> None:
    gateway, integration = await setup(make_gateway, kind)
    body = orjson.dumps(payload)
    headers, query = signed(kind, integration, body, webhook_url(gateway, integration))
    response = await gateway.post(integration, body, headers, query)
    assert await answer(response) == (400, "invalid_payload")
    assert await gateway.stored() == []
    outcome = f'gateway_webhooks_total{{kind="{kind}",outcome="invalid_payload"}}'
    assert await gateway.metric(outcome) == 1


COMPRESSED_BODIES = {"not-gzip": b"not gzip at all", "gzip": gzip.compress(b"{}")}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("encoding", ["gzip", "deflate", "GZIP", "identity, gzip"])
@pytest.mark.parametrize("body", list(COMPRESSED_BODIES.values()), ids=list(COMPRESSED_BODIES))
async def test_compressed_webhooks_are_415(
    make_gateway: GatewayFactory, kind: str, encoding: str, body: bytes
) -> None:
    """Verification runs on the bytes as sent: a compressed body is refused at the 415 step,
    whether it decodes or not (and whatever its signature says)."""
    gateway, integration = await setup(make_gateway, kind)
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding, **BAD_SIGNATURE}
    response = await gateway.post(integration, body, headers)
    assert await answer(response) == (415, "unsupported_media_type")
    assert "must not be compressed" in (await response.json())["error"]["message"]
    assert response.headers["Connection"] == "close"
    outcome = f'gateway_webhooks_total{{kind="{kind}",outcome="unsupported_media_type"}}'
    assert await gateway.metric(outcome) == 1


async def test_correctly_signed_compressed_body_is_still_refused(
    make_gateway: GatewayFactory,
) -> None:
    """The signature of the decoded bytes must not be accepted for the compressed ones."""
    gateway, integration = await setup(make_gateway, "standard")
    plain = b'{"type": "ping", "data": {}}'
    headers, _ = signed("standard", integration, plain, webhook_url(gateway, integration))
    response = await gateway.post(
        integration, gzip.compress(plain), {**headers, "Content-Encoding": "gzip"}
    )
    assert await answer(response) == (415, "unsupported_media_type")
    assert await gateway.stored() == []


@pytest.mark.parametrize("kind", KINDS)
async def test_compressed_oversize_is_413_and_paused_409(
    make_gateway: GatewayFactory, kind: str
) -> None:
    """The earlier steps still answer first for a compressed body; the limit counts the
    decoded bytes as for every body, so a small bomb is 413 too."""
    gateway, integration = await setup(make_gateway, kind)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    oversize = gzip.compress(os.urandom(LIMIT * 2))  # incompressible: over the limit as sent
    bomb = gzip.compress(b"0" * (LIMIT * 50))
    for body in (oversize, bomb):
        assert await answer(await gateway.post(integration, body, headers)) == (
            413,
            "payload_too_large",
        )
    await gateway.patch(integration, statusId=3002)
    assert await answer(await gateway.post(integration, b"x", headers)) == (
        409,
        "integration_paused",
    )


async def test_identity_encoding_is_accepted(make_gateway: GatewayFactory) -> None:
    gateway, integration = await setup(make_gateway, "standard")
    body = b'{"type": "ping", "data": {}}'
    headers, _ = signed("standard", integration, body, webhook_url(gateway, integration))
    response = await gateway.post(integration, body, {**headers, "Content-Encoding": "identity"})
    assert response.status == 202, await response.text()
