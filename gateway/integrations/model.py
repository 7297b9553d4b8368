"""Integration records and the admin API's request bodies (contract §2)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from gateway.times import format_ms

Kind = Literal["hubster-system", "hubster-direct", "scg", "standard", "telnyx", "twilio"]
ACTIVE: Literal[3000] = 3000
PAUSED: Literal[3002] = 3002
StatusId = Literal[3000, 3002]


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class IntegrationCreate(_Body):
    name: str = Field(min_length=1, max_length=200)
    kind: Kind
    hub_id: str = Field(min_length=1, max_length=200)
    tenant_id: str | None = Field(None, min_length=1, max_length=200)
    status_id: StatusId = ACTIVE
    configuration: dict[str, Any] = Field(default_factory=dict)


class DeclaredIntegration(IntegrationCreate):
    """A `[[integrations]]` table of the configuration file; a stable id keeps start-up
    idempotent (without one, the id is derived from hub, kind and name)."""

    integration_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._~-]{1,100}$")


class IntegrationUpdate(_Body):
    name: str | None = Field(None, min_length=1, max_length=200)
    status_id: StatusId | None = None
    configuration: dict[str, Any] | None = None
    regenerate_keys: bool = False


class RotatedCredential(_Body):
    """A configuration replaced by a rotation, still accepted until `expires_at_ms`."""

    configuration: dict[str, Any]
    expires_at_ms: int


class Integration(_Body):
    """The stored record. `configuration` holds the credentials (admin-only routes show it)."""

    model_config = ConfigDict(extra="ignore")

    integration_id: str
    kind: Kind
    name: str
    hub_id: str
    tenant_id: str | None
    status_id: StatusId
    configuration: dict[str, Any]
    created_at: str
    updated_at: str
    rotated: list[RotatedCredential] = Field(default_factory=list)

    def public_view(self) -> dict[str, Any]:
        """What the admin API returns: not the rotated-out credentials themselves, but until
        when the last of them is still accepted (`null` when none was rotated out)."""
        view = self.model_dump(by_alias=True, exclude={"rotated"})
        expiries = [item.expires_at_ms for item in self.rotated]
        view["previousCredentialsExpireAt"] = format_ms(max(expiries)) if expiries else None
        return view

    def configurations_valid_at(self, now_ms: int) -> list[dict[str, Any]]:
        """The current configuration first, then those rotated out whose grace runs on."""
        previous = [item.configuration for item in self.rotated if item.expires_at_ms > now_ms]
        return [self.configuration, *previous]
