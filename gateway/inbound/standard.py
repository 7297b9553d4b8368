"""Standard Webhooks (docs/signing.md): `webhook-*` headers, ±300 s. A body that already is
an activity event is taken as one; any other `{type, data, ...}` becomes `event:<type>`."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

import signing
from gateway.errors import InboundError, describe_validation_error
from gateway.events.activity import KeyedActivity, build_activity, dedup_key, source
from gateway.events.filters import FAMILIES
from gateway.events.model import SubmittedActivity
from gateway.inbound.base import (
    Adapter,
    InboundRequest,
    Receiver,
    check_scope,
    refused,
)
from gateway.inbound.fields import JsonObject, activity_type, parse_object, text
from gateway.inbound.media import JSON
from gateway.times import canonical_time, format_datetime

TOLERANCE_SECONDS = 300
_GENERIC_MEMBERS = frozenset({"type", "data"})


def _header(request: InboundRequest, name: str) -> str:
    """`webhook-<name>`, else its `svix-<name>` alias (the precedence the verifier documents);
    "" when neither is sent, which the verifier refuses as missing."""
    for prefix in ("webhook-", "svix-"):
        value = request.headers.get(prefix + name)
        if value is not None:
            return value
    return ""


def _verify(request: InboundRequest, receiver: Receiver) -> str:
    """Verify the signature; return the message id it covers (the idempotency key). The
    three headers are read once and handed to the verifier, so the dedup key is by
    construction the id that was checked, never an unsigned alias added beside it."""
    message_id = _header(request, "id")
    keys = receiver.credentials("secret") + receiver.credentials("publicKey")
    try:
        signing.standard.verify_parts(
            message_id,
            _header(request, "timestamp"),
            _header(request, "signature"),
            request.body,
            keys,
            tolerance_seconds=TOLERANCE_SECONDS,
            now=lambda: receiver.now,
        )
    except signing.VerificationError as exc:
        raise refused(exc) from None
    return message_id


def _is_activity(body: JsonObject) -> bool:
    """Gateway vocabulary types (`message:customer`, ...) mark a body as an activity."""
    type_ = body.get("type")
    return isinstance(type_, str) and type_.partition(":")[0] in FAMILIES and ":" in type_


def _dumped(model: Any) -> Any:
    return None if model is None else model.model_dump(by_alias=True)


def _type(submitted: SubmittedActivity) -> str:
    """A receipt's type is `receipt:<state lower-cased>` (docs/activity-events.md), whatever
    case the sender wrote; a receipt type naming another state than the receipt's is refused."""
    family, _, name = submitted.type.partition(":")
    if family != "receipt":
        return submitted.type
    state = name.lower()
    if submitted.receipt is not None and submitted.receipt.state != state:
        raise InboundError.invalid_payload(
            f"type: a receipt in state '{submitted.receipt.state}' has type "
            f"'receipt:{submitted.receipt.state}'."
        )
    return "receipt:" + state


def _source_and_data(
    submitted: SubmittedActivity, webhook_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The source is the gateway's to say: provider `standard` (the integration's kind, so a
    sender cannot pass for Hubster) and no echo (a Hubster notion). The sender's own event id
    and attempt are kept; a source claiming more is kept in `data.submittedSource` (this
    key is the gateway's: it replaces a sender's `data.submittedSource`). A body without a
    source gets the signed `webhook-id` as its event id."""
    if submitted.source is None:
        return source("standard", webhook_id), submitted.data
    claimed = submitted.source.model_dump(by_alias=True)
    forced = source("standard", submitted.source.event_id, submitted.source.attempt)
    if claimed == forced:
        return forced, submitted.data
    return forced, {**submitted.data, "submittedSource": claimed}


def _from_activity(body: JsonObject, webhook_id: str, receiver: Receiver) -> dict[str, Any]:
    try:
        submitted = SubmittedActivity.model_validate(body)
    except ValidationError as exc:
        raise InboundError.invalid_payload(describe_validation_error(exc)) from None
    check_scope(submitted.hub_id, submitted.tenant_id, receiver)
    source_, data = _source_and_data(submitted, webhook_id)
    return build_activity(
        receiver.destination,
        type=_type(submitted),
        occurred_at=None
        if submitted.occurred_at is None
        else format_datetime(submitted.occurred_at),
        conversation_id=submitted.conversation_id,
        channel=submitted.channel,
        source=source_,
        sender=_dumped(submitted.sender),
        recipient=_dumped(submitted.recipient),
        message=_dumped(submitted.message),
        receipt=_dumped(submitted.receipt),
        event=_dumped(submitted.event),
        data=data,
    )


def _occurred_at(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return canonical_time(value)
    except ValueError:
        return None


def _from_event(body: JsonObject, webhook_id: str, receiver: Receiver) -> dict[str, Any]:
    """`{type, data, ...}`: the other top-level members (e.g. `timestamp`) are kept in
    `data.envelope`; a `timestamp` that is an RFC 3339 time is `occurredAt`."""
    name = text(body, "type", "type")
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise InboundError.invalid_payload("data: must be an object.")
    envelope = {key: value for key, value in body.items() if key not in _GENERIC_MEMBERS}
    if envelope:
        data = {**data, "envelope": envelope}
    conversation_id = data.get("conversationId")
    return build_activity(
        receiver.destination,
        type=activity_type("event", name, "type"),
        occurred_at=_occurred_at(body.get("timestamp")),
        conversation_id=conversation_id if isinstance(conversation_id, str) else None,
        channel=None,
        source=source("standard", webhook_id),
        event={"type": name},
        data=data,
    )


class _StandardWebhook:
    """The signed `webhook-id` is the event's identity: one activity per webhook."""

    __slots__ = ("body", "key", "receiver", "webhook_id")

    def __init__(self, webhook_id: str, body: JsonObject, receiver: Receiver) -> None:
        self.webhook_id, self.body, self.receiver = webhook_id, body, receiver
        self.key = dedup_key(receiver.integration_id, webhook_id)

    def dedup_keys(self) -> list[str]:
        return [self.key]

    def normalise(self) -> list[KeyedActivity]:
        if _is_activity(self.body):
            activity = _from_activity(self.body, self.webhook_id, self.receiver)
        else:
            activity = _from_event(self.body, self.webhook_id, self.receiver)
        return [KeyedActivity(activity, self.key)]


def read(request: InboundRequest, receiver: Receiver) -> _StandardWebhook:
    webhook_id = _verify(request, receiver)
    return _StandardWebhook(webhook_id, parse_object(request.body), receiver)


ADAPTER = Adapter(media_types=(JSON,), read=read)
