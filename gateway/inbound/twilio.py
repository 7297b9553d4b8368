"""Twilio messaging webhooks (docs/signing.md): `X-Twilio-Signature` over the URL and the
form fields, or over the URL with a `bodySHA256` query parameter for JSON bodies.

Inbound SMS (`From`, `To`, `Body`, `MessageSid`, media) becomes `message:customer` on
channel `SMS`: a `text` message whose media, when there is some, are listed in
`attachments` as `{type: "attachment", url, mimeType}`. A status callback (`MessageStatus`)
becomes `receipt:<status>`. A consent keyword also yields `consent:optin|optout`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

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
    decimal,
    optional_text,
    parse_object,
    text,
)
from gateway.inbound.media import FORM, JSON
from gateway.inbound.sms import SMS, consent_of, receipt_details, thread_conversation_id

MAX_MEDIA = 10
MAX_FORM_FIELDS = 1000
_STATUS_FIELDS = frozenset(
    {"MessageSid", "MessageStatus", "From", "To", "ErrorCode", "ErrorMessage", "Price"}
)


def _form(body: bytes) -> dict[str, list[str]]:
    """Form fields as Twilio signed them; undecodable bytes become U+FFFD (and then the
    signature cannot match). Twilio sends a few dozen fields: a form with more than
    MAX_FORM_FIELDS is refused before anyone spends time sorting and hashing them."""
    try:
        decoded = body.decode("utf-8", "replace")
        return parse_qs(decoded, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise InboundError(
            "payload_too_large", f"The form has more than {MAX_FORM_FIELDS} fields.", 413
        ) from None


def _verified_fields(request: InboundRequest, receiver: Receiver) -> JsonObject:
    tokens = receiver.credentials("authToken")
    signature = request.headers.get(signing.twilio.SIGNATURE_HEADER)
    try:
        if request.media_type == FORM:
            form = _form(request.body)
            signing.twilio.verify(request.url, form, signature, tokens)
            return {
                name: values[0] if len(values) == 1 else values for name, values in form.items()
            }
        signing.twilio.verify_json(request.url, request.body, signature, tokens)
    except signing.VerificationError as exc:
        raise refused(exc) from None
    return parse_object(request.body)


def _media_count(fields: JsonObject) -> int | None:
    """NumMedia as a count (a string in forms, a number in JSON), None when it is not one."""
    raw = fields.get("NumMedia", "0")
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    return decimal(raw, 2) if isinstance(raw, str) else None


def _media(fields: JsonObject) -> tuple[list[Activity], set[str]]:
    """The attachments NumMedia announces; a NumMedia that is not a count is kept in `data`."""
    count = _media_count(fields)
    if count is None:
        return [], set()
    attachments, used = [], {"NumMedia"}
    for index in range(min(count, MAX_MEDIA)):
        url_name, type_name = f"MediaUrl{index}", f"MediaContentType{index}"
        if isinstance(fields.get(url_name), str):
            attachments.append(
                {"type": "attachment", "url": fields[url_name], "mimeType": fields.get(type_name)}
            )
            used.update((url_name, type_name))
    return attachments, used


class _Callback:
    """One verified callback: what every activity made from it shares."""

    def __init__(self, fields: JsonObject, receiver: Receiver) -> None:
        self.fields = fields
        self.receiver = receiver
        self.sid = text(fields, "MessageSid", "MessageSid")

    def activity(self, type_: str, customer: str, business: str, **members: Any) -> Activity:
        return build_activity(
            self.receiver.destination,
            type=type_,
            occurred_at=None,
            conversation_id=thread_conversation_id(self.receiver.hub_id, customer, business),
            channel=SMS,
            source=source("twilio", self.sid),
            **members,
        )

    def rest(self, used: set[str] | frozenset[str]) -> JsonObject:
        return {name: value for name, value in self.fields.items() if name not in used}

    def key(self, *parts: str) -> str:
        return dedup_key(self.receiver.integration_id, self.sid, *parts)

    def status(self) -> str | None:
        status = self.fields.get("MessageStatus")
        if status is not None and not isinstance(status, str):
            raise InboundError.invalid_payload("MessageStatus: must be a string.")
        return status

    def dedup_keys(self) -> list[str]:
        status = self.status()
        if status is not None:
            return [self.key(status.lower())]
        body = optional_text(self.fields, "Body", "Body") or ""
        if consent_of(body):
            return [self.key("inbound"), self.key("inbound", "consent")]
        return [self.key("inbound")]

    def normalise(self) -> list[KeyedActivity]:
        status = self.status()
        if status is not None:
            return _status(self, status)
        return _inbound(self)


def _status(callback: _Callback, status: str) -> list[KeyedActivity]:
    business, customer = text(callback.fields, "From", "From"), text(callback.fields, "To", "To")
    state = status.lower()
    details, unfit = receipt_details(callback.fields, "ErrorCode", "ErrorMessage", "Price")
    receipt = {"messageId": callback.sid, "state": state, "previousState": None, **details}
    activity = callback.activity(
        activity_type("receipt", state, "MessageStatus"),
        customer,
        business,
        sender=party("system", address=business),
        recipient=party("customer", address=customer),
        receipt=receipt,
        data=callback.rest(_STATUS_FIELDS) | unfit,
    )
    return [KeyedActivity(activity, callback.key(state))]


def _inbound(callback: _Callback) -> list[KeyedActivity]:
    customer, business = text(callback.fields, "From", "From"), text(callback.fields, "To", "To")
    body = optional_text(callback.fields, "Body", "Body") or ""
    attachments, used = _media(callback.fields)
    message: Activity = {"type": "text", "text": body}
    if attachments:
        message["attachments"] = attachments
    members: dict[str, Any] = {
        "sender": party("customer", address=customer),
        "recipient": party("system", address=business),
    }
    activity = callback.activity(
        "message:customer",
        customer,
        business,
        message=message,
        data=callback.rest(used | {"From", "To", "Body", "MessageSid"}),
        **members,
    )
    activities = [KeyedActivity(activity, callback.key("inbound"))]
    consent = consent_of(body)
    if consent is not None:
        change, keyword = consent
        data = {"keyword": keyword, "messageId": callback.sid}
        derived = callback.activity("consent:" + change, customer, business, data=data, **members)
        activities.append(KeyedActivity(derived, callback.key("inbound", "consent")))
    return activities


def read(request: InboundRequest, receiver: Receiver) -> _Callback:
    return _Callback(_verified_fields(request, receiver), receiver)


ADAPTER = Adapter(media_types=(FORM, JSON), read=read, signs_url=True)
