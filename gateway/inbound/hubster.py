"""Hubster System (`activities`) and Direct (`activity`) webhooks, signed with
`x-hubster-signature` (docs/signing.md), into activities (docs/activity-events.md)."""

from __future__ import annotations

from typing import Any

import signing
from gateway.errors import InboundError
from gateway.events.activity import KeyedActivity, build_activity, dedup_key, party, source
from gateway.events.model import Role
from gateway.inbound.base import (
    Adapter,
    InboundRequest,
    Receiver,
    check_scope,
    refused,
    too_many_activities,
)
from gateway.inbound.fields import (
    JsonObject,
    activity_type,
    decimal,
    flag,
    obj,
    optional_obj,
    optional_text,
    parse_object,
    text,
)
from gateway.inbound.media import JSON
from gateway.times import MAX_EPOCH_MS, format_ms

CHANNELS = {
    1: "Direct",
    2: "Bot",
    3: "System",
    101: "Messenger",
    102: "TwilioSMS",
    103: "Line",
    104: "Telegram",
    105: "Kik",
    106: "WebChat",
    1001: "Slack",
}
ROLES: dict[str, Role] = {
    "Customer": "customer",
    "Agent": "agent",
    "Bot": "bot",
    "System": "system",
    "Hubster": "system",
}
# Activity fields with a home in the activity event; every other one is kept in `data`.
_MAPPED = frozenset({"type", "eventId", "isEcho", "sender", "recipient", "message", "event"})


def _verify(request: InboundRequest, receiver: Receiver) -> None:
    signature = request.headers.get(signing.hubster.SIGNATURE_HEADER)
    try:
        signing.hubster.verify(request.body, signature, receiver.credentials("privateSigningKey"))
    except signing.VerificationError as exc:
        raise refused(exc) from None


def _event_id(item: JsonObject, path: str) -> int:
    value = item.get("eventId")
    if isinstance(value, str):
        value = decimal(value, len(str(MAX_EPOCH_MS)))
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_EPOCH_MS:
        raise InboundError.invalid_payload(f"{path}.eventId: must be epoch milliseconds.")
    return value


def _role(member: JsonObject, path: str) -> Role:
    integration_type = member.get("integrationType")
    role = ROLES.get(integration_type) if isinstance(integration_type, str) else None
    if role is None:
        raise InboundError.invalid_payload(
            f"{path}.integrationType: must be one of {', '.join(ROLES)}."
        )
    return role


def _channel(member: JsonObject | None, path: str) -> str | None:
    value = None if member is None else member.get("channelType")
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return CHANNELS.get(value, str(value))
    raise InboundError.invalid_payload(f"{path}.channelType: must be a channel name or number.")


def _party(member: JsonObject, path: str) -> dict[str, Any]:
    return party(
        _role(member, path), optional_text(member, "integrationId", path + ".integrationId")
    )


def _data(item: JsonObject, envelope: JsonObject, sender: JsonObject, recipient: Any) -> JsonObject:
    data: JsonObject = {"integrationId": envelope.get("integrationId")}
    if "conversationProperties" in envelope:
        data["conversationProperties"] = envelope["conversationProperties"]
    data.update((key, value) for key, value in item.items() if key not in _MAPPED)
    for name, member in (("sender", sender), ("recipient", recipient)):
        if isinstance(member, dict) and member.get("tokenId") is not None:
            data[name + "TokenId"] = member["tokenId"]
    return data


def _activity_type(
    message: JsonObject | None, event: JsonObject | None, role: Role, path: str
) -> str:
    if message is not None:
        text(message, "type", path + ".message.type")
        return "message:" + role
    name = text(event or {}, "type", path + ".event.type")
    return activity_type("event", name, path + ".event.type")


def _normalise_one(
    item: JsonObject, path: str, envelope: JsonObject, conversation_id: str, receiver: Receiver
) -> KeyedActivity:
    message = optional_obj(item, "message", path + ".message")
    event = optional_obj(item, "event", path + ".event")
    if (message is None) == (event is None):
        raise InboundError.invalid_payload(f"{path}: needs exactly one of message and event.")
    kind = "message" if message is not None else "event"
    if item.get("type") is not None and item.get("type") != kind:
        raise InboundError.invalid_payload(
            f"{path}.type: must be '{kind}' for an activity with a {kind}."
        )
    event_id = _event_id(item, path)
    sender = obj(item, "sender", path + ".sender")
    recipient = optional_obj(item, "recipient", path + ".recipient")
    sender_party = _party(sender, path + ".sender")
    recipient_party = None if recipient is None else _party(recipient, path + ".recipient")
    customer_side = sender if sender.get("integrationType") == "Customer" else recipient
    customer_path = path + (".sender" if customer_side is sender else ".recipient")
    key = _key(item, path, conversation_id, receiver.integration_id)
    activity = build_activity(
        receiver.destination,
        type=_activity_type(message, event, sender_party["role"], path),
        occurred_at=format_ms(event_id),
        conversation_id=conversation_id,
        channel=_channel(customer_side, customer_path),
        source=source("hubster", str(event_id), echo=flag(item, "isEcho", path + ".isEcho")),
        sender=sender_party,
        recipient=recipient_party,
        message=message,
        event=event,
        data=_data(item, envelope, sender, recipient),
    )
    return KeyedActivity(activity, key)


def _key(item: JsonObject, path: str, conversation_id: str, integration_id: str) -> str:
    """Hubster's identity of an activity: its `interactionId` when it has one, else the
    event type (`message` for messages) and the sender, with the event id and the
    conversation. Read alone for a redelivery, with the checks of the fields it reads."""
    event_id = _event_id(item, path)
    interaction_id = optional_text(item, "interactionId", path + ".interactionId")
    if interaction_id:
        identity: tuple[str, ...] = (interaction_id,)
    else:
        sender = obj(item, "sender", path + ".sender")
        sender_id = optional_text(sender, "integrationId", path + ".sender.integrationId")
        identity = (_event_name(item, path), sender_id or "")
    return dedup_key(integration_id, conversation_id, str(event_id), *identity)


def _event_name(item: JsonObject, path: str) -> str:
    if item.get("message") is not None:
        return "message"
    return text(obj(item, "event", path + ".event"), "type", path + ".event.type")


def _items(envelope: JsonObject, limit: int) -> list[tuple[str, JsonObject]]:
    """System bodies list `activities`; Direct bodies carry one `activity`. Either is read.
    A list longer than `limit` is refused before any of it is normalised."""
    if ("activities" in envelope) == ("activity" in envelope):
        raise InboundError.invalid_payload(
            "activities: give either activities (a list) or activity."
        )
    if "activity" in envelope:
        return [("activity", obj(envelope, "activity", "activity"))]
    listed = envelope["activities"]
    if not isinstance(listed, list) or not listed:
        raise InboundError.invalid_payload("activities: must be a non-empty list of activities.")
    if len(listed) > limit:
        raise too_many_activities(len(listed), limit)
    items = []
    for index, item in enumerate(listed):
        if not isinstance(item, dict):
            raise InboundError.invalid_payload(f"activities.{index}: must be an object.")
        items.append((f"activities.{index}", item))
    return items


class _HubsterWebhook:
    """A verified System or Direct body: its conversation and its activities, unread."""

    __slots__ = ("conversation_id", "envelope", "items", "receiver")

    def __init__(self, envelope: JsonObject, receiver: Receiver) -> None:
        check_scope(envelope.get("hubId"), envelope.get("tenantId"), receiver)
        self.envelope, self.receiver = envelope, receiver
        self.conversation_id = text(envelope, "conversationId", "conversationId")
        self.items = _items(envelope, receiver.max_activities)

    def dedup_keys(self) -> list[str]:
        integration_id = self.receiver.integration_id
        return [_key(item, path, self.conversation_id, integration_id) for path, item in self.items]

    def normalise(self) -> list[KeyedActivity]:
        return [
            _normalise_one(item, path, self.envelope, self.conversation_id, self.receiver)
            for path, item in self.items
        ]


def read(request: InboundRequest, receiver: Receiver) -> _HubsterWebhook:
    _verify(request, receiver)
    return _HubsterWebhook(parse_object(request.body), receiver)


ADAPTER = Adapter(media_types=(JSON,), read=read)
