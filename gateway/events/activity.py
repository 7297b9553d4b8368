"""Building normalised activities as plain dicts in one canonical key order.

Normalising is the hot path, so it builds dicts directly (no model per event); the shape is
the one `model.ActivityEvent` describes. The engine splices `id` in front when it stores one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway.events.model import Provider, Role

Activity = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Destination:
    """Where activities of one request land: the receiving integration, and when."""

    integration_id: str
    hub_id: str
    tenant_id: str | None
    received_at: str


@dataclass(frozen=True, slots=True)
class KeyedActivity:
    """An activity and the provider identity that makes a redelivery recognisable."""

    activity: Activity
    dedup_key: str


def dedup_key(integration_id: str, *parts: str) -> str:
    """Dedup is per gateway integration; JSON keeps the parts unambiguous whatever they hold."""
    return orjson.dumps([integration_id, *parts]).decode()


def source(provider: Provider, event_id: str, attempt: int = 1, echo: bool = False) -> Activity:
    return {"provider": provider, "eventId": event_id, "attempt": attempt, "echo": echo}


def party(role: Role, party_id: str | None = None, address: str | None = None) -> Activity:
    return {"role": role, "id": party_id, "address": address}


def build_activity(
    destination: Destination,
    *,
    type: str,
    occurred_at: str | None,
    conversation_id: str | None,
    channel: str | None,
    source: Activity,
    sender: Activity | None = None,
    recipient: Activity | None = None,
    message: Activity | None = None,
    receipt: Activity | None = None,
    event: Activity | None = None,
    data: Activity | None = None,
) -> Activity:
    """An activity in canonical key order; `occurredAt` falls back to `receivedAt`."""
    return {
        "type": type,
        "occurredAt": occurred_at or destination.received_at,
        "receivedAt": destination.received_at,
        "tenantId": destination.tenant_id,
        "hubId": destination.hub_id,
        "integrationId": destination.integration_id,
        "conversationId": conversation_id,
        "channel": channel,
        "source": source,
        "sender": sender,
        "recipient": recipient,
        "message": message,
        "receipt": receipt,
        "event": event,
        "data": data if data is not None else {},
    }
