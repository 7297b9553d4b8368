"""Telnyx messaging webhooks: `telnyx-signature-ed25519` (Ed25519 with the account's key
over `{telnyx-timestamp}|{raw body}`), ±300 s, checked with the configured `publicKey`.

The body is `{data: {id, event_type, occurred_at, payload}, meta: {attempt}}`.
`message.received` becomes `message:customer` on channel `SMS` (media as `attachments`, a
consent keyword also `consent:optin|optout`); `message.sent` and `message.finalized` become
`receipt:<payload.to[0].status>`; any other event type `event:<event_type>`. Messages and
receipts land in the conversation of their address pair, the same one SCG and Twilio use.
"""

from __future__ import annotations

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
from gateway.inbound.base import Adapter, InboundRequest, Receiver, refused
from gateway.inbound.fields import (
    JsonObject,
    activity_type,
    attempt_number,
    obj,
    optional_text,
    optional_time,
    parse_object,
    text,
)
from gateway.inbound.media import JSON
from gateway.inbound.sms import SMS, consent_of, receipt_details, thread_conversation_id

TOLERANCE_SECONDS = 300
MAX_MEDIA = 10
RECEIPT_EVENTS = frozenset({"message.sent", "message.finalized"})
_PAYLOAD = "data.payload"


def _verify(request: InboundRequest, receiver: Receiver) -> None:
    """Any configured key may verify: the current one, then those still in rotation grace.
    Every check before the signature itself (headers present and well formed, timestamp
    within tolerance) is the same whichever the key, so its refusal stands at once."""
    refusal = signing.VerificationError("signature_invalid")
    for public_key in receiver.credentials("publicKey"):
        try:
            signing.telnyx.verify(
                request.headers,
                request.body,
                public_key,
                tolerance_seconds=TOLERANCE_SECONDS,
                now=lambda: receiver.now,
            )
            return
        except signing.VerificationError as exc:
            refusal = exc
            if exc.reason != "signature_invalid":
                break
    raise refused(refusal)


def _attempt(body: JsonObject) -> int:
    """`meta.attempt`, a number or a numeric string; 1 when there is no usable one (the
    attempt is informative: a redelivery is recognised by its event id, not by this)."""
    meta = body.get("meta")
    value = meta.get("attempt") if isinstance(meta, dict) else None
    return attempt_number(value) or 1


def _phone_number(holder: Any, path: str) -> str:
    if not isinstance(holder, dict):
        raise InboundError.invalid_payload(f"{path}: must be an object.")
    return text(holder, "phone_number", path + ".phone_number")


def _recipients(payload: JsonObject) -> list[Any]:
    recipients = payload.get("to")
    if not isinstance(recipients, list) or not recipients:
        raise InboundError.invalid_payload(f"{_PAYLOAD}.to: must be a non-empty list.")
    return recipients


class _Event:
    """One verified Telnyx event: what every activity made from it shares."""

    def __init__(self, body: JsonObject, receiver: Receiver) -> None:
        self.data = obj(body, "data", "data")
        self.receiver = receiver
        self.event_id = text(self.data, "id", "data.id")
        self.name = text(self.data, "event_type", "data.event_type")
        self.occurred_at = optional_time(self.data, "occurred_at", "data.occurred_at")
        self.source = source("telnyx", self.event_id, _attempt(body))

    def message_payload(self) -> JsonObject:
        return obj(self.data, "payload", _PAYLOAD)

    def conversation(self, customer: str, business: str) -> str:
        return thread_conversation_id(self.receiver.hub_id, customer, business)

    def activity(
        self, type_: str, conversation_id: str | None, channel: str | None, **members: Any
    ) -> Activity:
        return build_activity(
            self.receiver.destination,
            type=type_,
            occurred_at=self.occurred_at,
            conversation_id=conversation_id,
            channel=channel,
            source=self.source,
            **members,
        )

    def key(self, *parts: str) -> str:
        """`data.id` with the event type: Telnyx gives every event its own id, and the type
        keeps one id reused by mistake for two kinds of event from swallowing the second."""
        return dedup_key(self.receiver.integration_id, self.event_id, self.name, *parts)

    def received_text(self) -> str:
        payload = self.message_payload()
        return optional_text(payload, "text", f"{_PAYLOAD}.text") or ""

    def dedup_keys(self) -> list[str]:
        if self.name == "message.received" and consent_of(self.received_text()):
            return [self.key(), self.key("consent")]
        return [self.key()]

    def normalise(self) -> list[KeyedActivity]:
        if self.name == "message.received":
            return _received(self)
        if self.name in RECEIPT_EVENTS:
            return _receipt(self)
        return _other(self)


def _rest(payload: JsonObject, used: set[str]) -> JsonObject:
    """The payload's members with no home in the activity, as Telnyx named them. `to` stays
    when it lists more than the one recipient the activity names (a group MMS)."""
    if len(payload.get("to") or ()) > 1:
        used = used - {"to"}
    return {name: value for name, value in payload.items() if name not in used}


def _attachments(payload: JsonObject) -> tuple[list[Activity], set[str]]:
    """Media items with a URL, as `{type: "attachment", url, mimeType}` (at most MAX_MEDIA);
    `media` leaves `data` only when every item became an attachment."""
    media = payload.get("media")
    if not isinstance(media, list):
        return [], set()
    attachments = [
        {
            "type": "attachment",
            "url": item["url"],
            "mimeType": item.get("content_type")
            if isinstance(item.get("content_type"), str)
            else None,
        }
        for item in media[:MAX_MEDIA]
        if isinstance(item, dict) and isinstance(item.get("url"), str)
    ]
    return attachments, {"media"} if len(attachments) == len(media) else set()


def _received(event: _Event) -> list[KeyedActivity]:
    payload = event.message_payload()
    customer = _phone_number(payload.get("from"), f"{_PAYLOAD}.from")
    business = _phone_number(_recipients(payload)[0], f"{_PAYLOAD}.to.0")
    body = optional_text(payload, "text", f"{_PAYLOAD}.text") or ""
    message: Activity = {"type": "text", "text": body}
    attachments, media_used = _attachments(payload)
    if attachments:
        message["attachments"] = attachments
    members: dict[str, Any] = {
        "sender": party("customer", address=customer),
        "recipient": party("system", address=business),
    }
    conversation_id = event.conversation(customer, business)
    activity = event.activity(
        "message:customer",
        conversation_id,
        SMS,
        message=message,
        data=_rest(payload, {"from", "to", "text"} | media_used),
        **members,
    )
    activities = [KeyedActivity(activity, event.key())]
    consent = consent_of(body)
    if consent is not None:
        change, keyword = consent
        data = {"keyword": keyword, "messageId": payload.get("id")}
        derived = event.activity("consent:" + change, conversation_id, SMS, data=data, **members)
        activities.append(KeyedActivity(derived, event.key("consent")))
    return activities


def _reported(payload: JsonObject) -> JsonObject:
    """What a receipt reports beside its state, flat: the first error's `code` and
    `title` (its `detail` when it has no title), and the cost's `amount`. `errors` and
    `cost` themselves stay in `data`, currency and any later errors included."""
    errors = payload.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    error = first if isinstance(first, dict) else {}
    cost = payload.get("cost")
    return {
        "code": error.get("code"),
        "title": error.get("title") or error.get("detail"),
        "amount": cost.get("amount") if isinstance(cost, dict) else None,
    }


def _receipt(event: _Event) -> list[KeyedActivity]:
    """An outbound message's status: from us (`from`) to the customer (`to[0]`)."""
    payload = event.message_payload()
    recipient = _recipients(payload)[0]
    business = _phone_number(payload.get("from"), f"{_PAYLOAD}.from")
    customer = _phone_number(recipient, f"{_PAYLOAD}.to.0")
    status_path = f"{_PAYLOAD}.to.0.status"
    state = text(recipient, "status", status_path).lower()
    details, _ = receipt_details(_reported(payload), "code", "title", "amount")
    receipt = {
        "messageId": optional_text(payload, "id", f"{_PAYLOAD}.id"),
        "state": state,
        "previousState": None,
        **details,
    }
    activity = event.activity(
        activity_type("receipt", state, status_path),
        event.conversation(customer, business),
        SMS,
        sender=party("system", address=business),
        recipient=party("customer", address=customer),
        receipt=receipt,
        data=_rest(payload, {"id", "from", "to"}),
    )
    return [KeyedActivity(activity, event.key())]


def _other(event: _Event) -> list[KeyedActivity]:
    """Any other event (calls, number orders, ...), generically: its payload as `data`."""
    payload = event.data.get("payload")
    data = payload if isinstance(payload, dict) else {} if payload is None else {"payload": payload}
    activity = event.activity(
        activity_type("event", event.name, "data.event_type"),
        None,
        None,
        event={"type": event.name},
        data=data,
    )
    return [KeyedActivity(activity, event.key())]


def read(request: InboundRequest, receiver: Receiver) -> _Event:
    _verify(request, receiver)
    return _Event(parse_object(request.body), receiver)


ADAPTER = Adapter(media_types=(JSON,), read=read)
