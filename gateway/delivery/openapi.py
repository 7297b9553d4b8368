"""What subscribers receive, for the OpenAPI document's `webhooks`: one delivery request per
format, its headers, its body, and what the subscriber's answer means.

`HubsterDelivery` describes the body `hubster_format.hubster_body` builds (the tests validate
real deliveries against it); a standard delivery's body is the stored activity event itself.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.delivery.formats import SOURCE_SYSTEM
from gateway.events.model import ActivityEvent
from gateway.reference.schemas import ModelUse, Schema, text_parameter


class HubsterParty(BaseModel):
    model_config = ConfigDict(extra="forbid")

    integrationId: str | None
    integrationType: Literal["Customer", "Agent", "Bot", "System"]
    channelType: str | None
    tokenId: Any = None


class HubsterPayloadEvent(BaseModel):
    """Anything but a message: the whole gateway activity, typed by `payloadType`."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["payload"]
    payloadType: str = Field(description="The gateway type (`receipt:delivered`, ...).")
    payload: ActivityEvent


class HubsterActivity(BaseModel):
    """One activity in Hubster's own shape: a `message`, or an `event` of type `payload`."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["message", "event"]
    eventTrigger: str = Field(description="The gateway type.")
    eventId: int = Field(description="When it happened, in epoch milliseconds.")
    externalId: Any = None
    isEcho: bool
    interactionId: str | None = Field(None, description="Messages only.")
    flowProcess: str
    sender: HubsterParty
    recipient: HubsterParty | None
    message: dict[str, Any] | None = Field(None, description="Messages: as the gateway has it.")
    event: HubsterPayloadEvent | None = Field(None, description="Everything else.")


class HubsterDelivery(BaseModel):
    """The body of a `hubster` delivery: a Hubster System webhook with one activity."""

    model_config = ConfigDict(extra="forbid")

    hubId: str
    tenantId: str | None
    integrationId: str
    conversationId: str | None
    conversationProperties: dict[str, Any]
    activities: list[HubsterActivity] = Field(min_length=1, max_length=1)


MODEL_USES: tuple[ModelUse, ...] = (
    (ActivityEvent, "serialization"),
    (HubsterDelivery, "serialization"),
)

_ANSWERS: dict[str, Schema] = {
    "2XX": {"description": "Delivered: the delivery is done."},
    "410": {
        "description": "Gone: the subscriber is disabled (`disabledReason: gone`) until "
        "`POST /subscribers/{id}/enable`; the delivery waits for it."
    },
    "429": {"description": "Retried later, after `Retry-After` when it is longer."},
    "503": {
        "description": "Retried later, after `Retry-After` when it is longer (so are 502 and 504)."
    },
    "default": {
        "description": "Anything else, or no answer within the delivery timeout (15 s): "
        "retried on the schedule (0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each ±20 %), "
        "then dead and kept for replay."
    },
}


def _headers(*headers: tuple[str, str]) -> list[Schema]:
    return [text_parameter(name, "header", text, required=True) for name, text in headers]


def webhooks(refs: dict[ModelUse, Schema]) -> dict[str, Schema]:
    """The `webhooks` member: a subscriber's endpoint, per format."""
    return {
        "standardDelivery": {
            "post": {
                "operationId": "deliverStandard",
                "summary": "A delivery to a `standard` subscriber (Standard Webhooks).",
                "description": "The body is the activity event, byte for byte as stored. "
                "Any Standard Webhooks verifier (`standardwebhooks`, `svix`) checks it with "
                "the subscriber's `secret`; during a rotation `webhook-signature` carries a "
                "signature by each secret in force.",
                "tags": ["Subscribers"],
                "parameters": _headers(
                    ("webhook-id", "The event id: the same on every retry and replay."),
                    ("webhook-timestamp", "When this attempt was signed, epoch seconds."),
                    ("webhook-signature", "`v1,<base64 HMAC-SHA256>`, space-separated."),
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": refs[(ActivityEvent, "serialization")]}
                    },
                },
                "responses": _ANSWERS,
                "security": [],
            }
        },
        "hubsterDelivery": {
            "post": {
                "operationId": "deliverHubster",
                "summary": "A delivery to a `hubster` subscriber (Hubster System webhook).",
                "description": "Code written for Hubster System webhooks reads it unchanged: "
                "`x-hubster-signature` is the Base64 HMAC-SHA256 of the body keyed with the "
                "subscriber's `privateSigningKey`, named by `x-hubster-public-key`.",
                "tags": ["Subscribers"],
                "parameters": _headers(
                    ("x-hubster-signature", "Base64 HMAC-SHA256 of the raw body."),
                    ("x-hubster-public-key", "The key pair that signed (its public half)."),
                    ("x-hub-id", "The activity's hub."),
                    ("x-integration-id", "The gateway integration that received it."),
                    ("x-conversation-id", "The conversation (empty when none)."),
                    ("x-source-system", f"Always `{SOURCE_SYSTEM}`."),
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": refs[(HubsterDelivery, "serialization")]}
                    },
                },
                "responses": _ANSWERS,
                "security": [],
            }
        },
    }
