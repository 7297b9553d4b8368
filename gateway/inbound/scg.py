"""Syniverse SCG Event Subscription Service deliveries (docs/activity-events.md), authenticated by a
Basic or Bearer credential, into receipts, customer messages, consent and generic events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import signing
from gateway.errors import InboundError
from gateway.events.activity import (
    Activity,
    KeyedActivity,
    build_activity,
    dedup_key,
    party,
    source,
)
from gateway.events.model import MAX_ATTEMPT
from gateway.inbound.base import Adapter, InboundRequest, Receiver
from gateway.inbound.fields import (
    JsonObject,
    activity_type,
    attempt_number,
    obj,
    optional_obj,
    optional_text,
    optional_time,
    parse_object,
    text,
)
from gateway.inbound.media import JSON
from gateway.inbound.sms import SMS, consent_of, receipt_details, thread_conversation_id

_ENVELOPE = frozenset({"attempt", "event", "event-id", "event_id"})
_RECEIPT_FIELDS = frozenset(
    {
        "message_id",
        "new_state",
        "previous_state",
        "reason_code",
        "reason_description",
        "mt_price",
        "from_address",
        "to_address",
    }
)
_MO_FIELDS = frozenset({"message_body", "from_address", "to_address"})


def _unauthorized() -> InboundError:
    return InboundError("unauthorized", "The SCG credential is missing or not accepted.", 401)


def authenticate(headers: Mapping[str, str], receiver: Receiver) -> None:
    """ESS does not sign: check the configured Basic or Bearer credential (any failure 401).
    The headers are enough, so the handler runs this before reading the body too."""
    authorization = headers.get("Authorization")
    scheme = (authorization or "").strip().partition(" ")[0].lower()
    pairs = [
        (config["username"], config["password"])
        for config in receiver.configurations
        if isinstance(config.get("username"), str) and isinstance(config.get("password"), str)
    ]
    tokens = receiver.credentials("bearerToken")
    try:
        if scheme == "basic" and pairs:
            signing.check_basic_any(authorization, pairs)
        elif scheme == "bearer" and tokens:
            signing.check_bearer(authorization, tokens)
        else:
            raise _unauthorized()
    except signing.VerificationError:
        raise _unauthorized() from None


def _attempt(envelope: JsonObject) -> int:
    """ESS sends a number, sometimes as a numeric string; 1..MAX_ATTEMPT."""
    value = attempt_number(envelope.get("attempt", 1))
    if value is None:
        raise InboundError.invalid_payload(f"attempt: must be an integer from 1 to {MAX_ATTEMPT}.")
    return value


def _event_id(envelope: JsonObject) -> str:
    """`event-id` or `event_id`, whichever is a non-empty string (the hyphenated first)."""
    for key in ("event-id", "event_id"):
        value = envelope.get(key)
        if isinstance(value, str) and value:
            return value
    raise InboundError.invalid_payload("event-id (or event_id): must be a non-empty string.")


def _rest(fields: JsonObject, used: frozenset[str], envelope: JsonObject) -> JsonObject:
    """Fields with no home in the activity: the topic, unknown envelope keys, the rest."""
    data = {key: value for key, value in envelope.items() if key not in _ENVELOPE}
    data.update((key, value) for key, value in fields.items() if key not in used)
    return data


class _Delivery:
    """One ESS delivery, read: what every activity made from it shares. Its `event-id` is
    its identity (and the consent change an MO's keyword makes has its own beside it)."""

    def __init__(self, envelope: JsonObject, receiver: Receiver) -> None:
        self.envelope = envelope
        self.receiver = receiver
        self.event = obj(envelope, "event", "event")
        self.name = text(self.event, "evt-tp", "event.evt-tp")
        self.fields = optional_obj(self.event, "fld-val-list", "event.fld-val-list") or {}
        self.event_id = _event_id(envelope)
        self.source = source("scg", self.event_id, _attempt(envelope))
        self.occurred_at = optional_time(self.event, "timestamp", "event.timestamp")
        self.key = dedup_key(receiver.integration_id, self.event_id)

    def field(self, name: str) -> str | None:
        return optional_text(self.fields, name, "event.fld-val-list." + name)

    @property
    def consent_key(self) -> str:
        """The key of the consent change an MO's keyword makes, beside the MO's own."""
        return self.key + ":consent"

    def dedup_keys(self) -> list[str]:
        if self.name == "mo_message_received" and consent_of(self.field("message_body") or ""):
            return [self.key, self.consent_key]
        return [self.key]

    def normalise(self) -> list[KeyedActivity]:
        if self.name == "message_state_change":
            return _receipt(self)
        if self.name == "mo_message_received":
            return _mo_message(self)
        return _other(self)

    def conversation(self, customer: str | None, business: str | None) -> str | None:
        if customer is None or business is None:
            return None
        return thread_conversation_id(self.receiver.hub_id, customer, business)

    def activity(self, type_: str, conversation_id: str | None, **members: Any) -> Activity:
        channel = SMS if self.envelope.get("topic", "SCG-Message") == "SCG-Message" else None
        return build_activity(
            self.receiver.destination,
            type=type_,
            occurred_at=self.occurred_at,
            conversation_id=conversation_id,
            channel=channel,
            source=self.source,
            **members,
        )


def _receipt(delivery: _Delivery) -> list[KeyedActivity]:
    path = "event.fld-val-list.new_state"
    state = text(delivery.fields, "new_state", path).lower()
    previous = delivery.field("previous_state")
    sender, recipient = delivery.field("from_address"), delivery.field("to_address")
    details, unfit = receipt_details(
        delivery.fields, "reason_code", "reason_description", "mt_price"
    )
    receipt = {
        "messageId": delivery.field("message_id"),
        "state": state,
        "previousState": previous.lower() if previous else None,
        **details,
    }
    activity = delivery.activity(
        activity_type("receipt", state, path),
        delivery.conversation(recipient, sender),
        sender=party("system", address=sender) if sender else None,
        recipient=party("customer", address=recipient) if recipient else None,
        receipt=receipt,
        data=_rest(delivery.fields, _RECEIPT_FIELDS, delivery.envelope) | unfit,
    )
    return [KeyedActivity(activity, delivery.key)]


def _mo_message(delivery: _Delivery) -> list[KeyedActivity]:
    fields_path = "event.fld-val-list."
    customer = text(delivery.fields, "from_address", fields_path + "from_address")
    business = text(delivery.fields, "to_address", fields_path + "to_address")
    body = delivery.field("message_body") or ""
    members: dict[str, Any] = {
        "sender": party("customer", address=customer),
        "recipient": party("system", address=business),
    }
    conversation_id = delivery.conversation(customer, business)
    message = delivery.activity(
        "message:customer",
        conversation_id,
        message={"type": "text", "text": body},
        data=_rest(delivery.fields, _MO_FIELDS, delivery.envelope),
        **members,
    )
    activities = [KeyedActivity(message, delivery.key)]
    consent = consent_of(body)
    if consent is not None:
        change, keyword = consent
        data = {"keyword": keyword, "messageId": delivery.fields.get("message_id")}
        derived = delivery.activity("consent:" + change, conversation_id, data=data, **members)
        activities.append(KeyedActivity(derived, delivery.consent_key))
    return activities


def _other(delivery: _Delivery) -> list[KeyedActivity]:
    """Any other event type, generically; one that names both addresses belongs to the
    conversation of that pair, read like an MO (from the customer to the business)."""
    activity = delivery.activity(
        activity_type("event", delivery.name, "event.evt-tp"),
        delivery.conversation(delivery.field("from_address"), delivery.field("to_address")),
        event={"type": delivery.name},
        data=_rest(delivery.fields, frozenset(), delivery.envelope),
    )
    return [KeyedActivity(activity, delivery.key)]


def read(request: InboundRequest, receiver: Receiver) -> _Delivery:
    authenticate(request.headers, receiver)
    return _Delivery(parse_object(request.body), receiver)


ADAPTER = Adapter(media_types=(JSON,), read=read, authenticate=authenticate)
