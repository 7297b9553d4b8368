"""The hub and tenant of an activity are the integration's, whatever the body claims."""

from __future__ import annotations

from typing import Any

from gateway.events.activity import Destination
from gateway.inbound.base import InboundError


def check_scope(hub_id: Any, tenant_id: Any, destination: Destination) -> None:
    """Refuse a body that names another hub or tenant; naming none is fine."""
    if hub_id is not None and hub_id != destination.hub_id:
        raise InboundError.invalid_payload("hubId: this integration belongs to another hub.")
    if tenant_id is not None and tenant_id != destination.tenant_id:
        raise InboundError.invalid_payload("tenantId: this integration belongs to another tenant.")
