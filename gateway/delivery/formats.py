"""The request a delivery sends, by the subscriber's format: body bytes and headers, signed.

`standard` sends the stored event's bytes as they are, with Standard Webhooks headers (one
signature per secret the subscriber's credentials hold valid now, so both during a
rotation). `hubster` sends the Hubster System body with Hubster's headers, signed with the
current key pair only.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

import signing
from gateway.delivery.hubster_format import hubster_body
from gateway.subscribers.model import Subscriber

USER_AGENT = "webhook-gateway"
SOURCE_SYSTEM = "engine.hubster.io"
"""What Hubster itself sends (docs/signing.md): receivers written for Hubster System webhooks
may check it, and docs/subscribers.md promises such code works unchanged."""


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    body: bytes
    headers: dict[str, str]


def render(subscriber: Subscriber, event_id: str, payload: bytes, now: float) -> OutboundRequest:
    if subscriber.format == "hubster":
        return _hubster(subscriber, payload)
    return _standard(subscriber, event_id, payload, now)


def _standard(subscriber: Subscriber, event_id: str, payload: bytes, now: float) -> OutboundRequest:
    timestamp = int(now)
    secrets = subscriber.credentials.values("secret", int(now * 1000))
    return OutboundRequest(
        body=payload,
        headers={
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signing.standard.sign(event_id, timestamp, payload, secrets),
        },
    )


def _hubster(subscriber: Subscriber, payload: bytes) -> OutboundRequest:
    body_json = hubster_body(orjson.loads(payload))
    body = orjson.dumps(body_json)
    keys = subscriber.credentials.current
    return OutboundRequest(
        body=body,
        headers={
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            signing.hubster.SIGNATURE_HEADER: signing.hubster.sign(body, keys["privateSigningKey"]),
            signing.hubster.PUBLIC_KEY_HEADER: keys["publicSigningKey"],
            "x-hub-id": str(body_json["hubId"] or ""),
            "x-integration-id": str(body_json["integrationId"] or ""),
            "x-conversation-id": str(body_json["conversationId"] or ""),
            "x-source-system": SOURCE_SYSTEM,
        },
    )
