"""Creating and updating integration records: pure functions of the request and the clock.

Each kind's credential is a scheme of the shared credential model (`gateway.credentials`):
checked when given, generated when absent, regenerated on `regenerateKeys`, and rotated with
a grace like a subscriber's.
"""

from __future__ import annotations

from typing import Any

from gateway.credentials.rotation import MAX_PREVIOUS_ON_INTEGRATION, Credentials
from gateway.credentials.schemes import (
    Fields,
    HubsterKeys,
    ScgCredentials,
    Scheme,
    StandardKeys,
    TelnyxKey,
    TwilioToken,
    checked,
)
from gateway.integrations.model import Integration, IntegrationCreate, IntegrationUpdate, Kind
from gateway.times import format_ms

SCHEMES: dict[str, type[Scheme]] = {
    "hubster-system": HubsterKeys,
    "hubster-direct": HubsterKeys,
    "scg": ScgCredentials,
    "standard": StandardKeys,
    "telnyx": TelnyxKey,
    "twilio": TwilioToken,
}
"""The credential scheme of each integration kind."""


def _checked(kind: Kind, configuration: dict[str, Any]) -> Scheme:
    return checked(SCHEMES[kind], configuration, "configuration")


def new_integration(body: IntegrationCreate, integration_id: str, now_ms: int) -> Integration:
    now = format_ms(now_ms)
    configuration = _checked(body.kind, body.configuration).completed()
    return Integration(
        integration_id=integration_id,
        kind=body.kind,
        name=body.name,
        hub_id=body.hub_id,
        tenant_id=body.tenant_id,
        status_id=body.status_id,
        credentials=Credentials(current=configuration),
        rate_limit_per_second=body.rate_limit_per_second,
        created_at=now,
        updated_at=now,
    )


def updated_integration(
    current: Integration, patch: IntegrationUpdate, now_ms: int, default_grace_seconds: float
) -> Integration:
    """Apply a PATCH. A credential change (given or regenerated) keeps the previous one
    valid for the grace (`graceSeconds`, else the default), so senders can switch without a
    gap; a grace without a change ends the grace of those already replaced earlier."""
    credentials = current.credentials
    configuration = _new_configuration(current, patch)
    grace = default_grace_seconds if patch.grace_seconds is None else patch.grace_seconds
    if configuration != credentials.current:
        credentials = credentials.rotated(configuration, now_ms, grace, MAX_PREVIOUS_ON_INTEGRATION)
    elif patch.grace_seconds is not None:
        credentials = credentials.graced(now_ms, patch.grace_seconds)
    rate = current.rate_limit_per_second
    if "rate_limit_per_second" in patch.model_fields_set:
        rate = patch.rate_limit_per_second
    return current.model_copy(
        update={
            "name": patch.name if patch.name is not None else current.name,
            "rate_limit_per_second": rate,
            "status_id": patch.status_id if patch.status_id is not None else current.status_id,
            "credentials": credentials,
            "updated_at": format_ms(now_ms),
        }
    )


def _new_configuration(current: Integration, patch: IntegrationUpdate) -> Fields:
    configuration = current.credentials.current
    if patch.configuration is not None:
        merged = merge_patch(configuration, patch.configuration)
        configuration = _checked(current.kind, merged).completed()
    if patch.regenerate_keys:
        configuration = _checked(current.kind, configuration).regenerated()
    return configuration


def merge_patch(configuration: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JSON merge patch of the configuration: a key set to null is removed."""
    result = dict(configuration)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result
