"""Creating and updating integration records: pure functions of the request and the clock."""

from __future__ import annotations

from gateway.integrations.credentials import complete_configuration, merged, regenerated
from gateway.integrations.model import (
    Integration,
    IntegrationCreate,
    IntegrationUpdate,
    RotatedCredential,
)
from gateway.times import format_ms


def new_integration(body: IntegrationCreate, integration_id: str, now_ms: int) -> Integration:
    now = format_ms(now_ms)
    return Integration(
        integration_id=integration_id,
        kind=body.kind,
        name=body.name,
        hub_id=body.hub_id,
        tenant_id=body.tenant_id,
        status_id=body.status_id,
        configuration=complete_configuration(body.kind, body.configuration),
        rate_limit_per_second=body.rate_limit_per_second,
        created_at=now,
        updated_at=now,
    )


def updated_integration(
    current: Integration, patch: IntegrationUpdate, now_ms: int, grace_seconds: float
) -> Integration:
    """Apply a PATCH. A credential change (given or regenerated) keeps the previous
    configuration valid for the grace period, so senders can switch without a gap."""
    configuration = current.configuration
    if patch.configuration is not None:
        configuration = complete_configuration(
            current.kind, merged(configuration, patch.configuration)
        )
    if patch.regenerate_keys:
        configuration = regenerated(current.kind, configuration)
    rotated = [item for item in current.rotated if item.expires_at_ms > now_ms]
    if configuration != current.configuration:
        expires = now_ms + int(grace_seconds * 1000)
        rotated.append(
            RotatedCredential(configuration=current.configuration, expires_at_ms=expires)
        )
    rate = current.rate_limit_per_second
    if "rate_limit_per_second" in patch.model_fields_set:
        rate = patch.rate_limit_per_second
    return current.model_copy(
        update={
            "name": patch.name if patch.name is not None else current.name,
            "rate_limit_per_second": rate,
            "status_id": patch.status_id if patch.status_id is not None else current.status_id,
            "configuration": configuration,
            "rotated": rotated,
            "updated_at": format_ms(now_ms),
        }
    )
