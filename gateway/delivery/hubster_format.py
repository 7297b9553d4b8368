"""Gateway activity -> Hubster System webhook body (docs/subscribers.md), a pure function.

Messages become Hubster message activities; anything else (receipts, consent, events)
becomes an `event` activity of type `payload` carrying the whole gateway activity, so code
written for Hubster System webhooks reads every delivery without loss. Hubster fields the
inbound side kept in `data` (interactionId, externalId, flowProcess, token ids,
conversationProperties) are put back where Hubster has them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.engine.ids import event_id_ms, is_event_id
from gateway.times import epoch_ms

Json = dict[str, Any]

_INTEGRATION_TYPES = {"customer": "Customer", "agent": "Agent", "bot": "Bot", "system": "System"}
_CHANNEL_BY_ROLE = {"agent": "Direct", "bot": "Bot", "system": "System"}


def hubster_body(activity: Json) -> Json:
    """The System webhook body for one stored activity (which carries its gateway `id`)."""
    data = activity.get("data") or {}
    properties = data.get("conversationProperties")
    return {
        "hubId": activity.get("hubId"),
        "tenantId": activity.get("tenantId"),
        "integrationId": activity.get("integrationId"),
        "conversationId": activity.get("conversationId"),
        "conversationProperties": properties
        if isinstance(properties, dict)
        else {"profile": {}, "additional": {}},
        "activities": [hubster_activity(activity)],
    }


def hubster_activity(activity: Json) -> Json:
    gateway_type = str(activity.get("type", ""))
    message = activity.get("message")
    source = activity.get("source") or {}
    data = activity.get("data") or {}
    is_message = gateway_type.startswith("message:") and isinstance(message, dict)
    converted: Json = {
        "type": "message" if is_message else "event",
        "eventTrigger": gateway_type,
        "eventId": _event_ms(activity),
        "externalId": data.get("externalId"),
        "isEcho": bool(source.get("echo", False)),
    }
    if is_message:
        converted["interactionId"] = data.get("interactionId") or activity.get("id")
    converted["flowProcess"] = data.get("flowProcess") or "Default"
    converted["sender"] = _party(
        activity.get("sender"), activity, data.get("senderTokenId"), fallback_to_integration=True
    )
    converted["recipient"] = _party(
        activity.get("recipient"), activity, data.get("recipientTokenId")
    )
    if is_message:
        converted["message"] = message
    else:
        converted["event"] = {
            "type": "payload",
            "payloadType": gateway_type,
            "payload": activity,
        }
    return converted


def _event_ms(activity: Json) -> int:
    """Hubster's `eventId` is when the event happened, in epoch ms: `occurredAt`, else the
    time in the gateway id, else 0 (no time known: an example send's id is no event id)."""
    occurred = activity.get("occurredAt")
    if isinstance(occurred, str):
        try:
            return epoch_ms(datetime.fromisoformat(occurred))
        except ValueError:
            pass
    event_id = activity.get("id")
    if isinstance(event_id, str) and is_event_id(event_id):
        return event_id_ms(event_id)
    return 0


def _party(
    party: object, activity: Json, token_id: object, *, fallback_to_integration: bool = False
) -> Json | None:
    """A Hubster party; a missing sender is the integration itself, as a system sender."""
    if not isinstance(party, dict):
        if not fallback_to_integration:
            return None
        party = {"role": "system", "id": activity.get("integrationId")}
    role = str(party.get("role", "system"))
    channel = activity.get("channel") if role == "customer" else _CHANNEL_BY_ROLE.get(role)
    return {
        "integrationId": party.get("id"),
        "integrationType": _INTEGRATION_TYPES.get(role, "System"),
        "channelType": channel,
        "tokenId": token_id,
    }
