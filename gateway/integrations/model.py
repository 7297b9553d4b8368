"""Integration records and the admin API's request bodies (contract §2)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from gateway.credentials.rotation import RECORD_MEMBER, Credentials, GraceSeconds
from gateway.times import format_ms

Kind = Literal["hubster-system", "hubster-direct", "scg", "standard", "telnyx", "twilio"]
ACTIVE: Literal[3000] = 3000
PAUSED: Literal[3002] = 3002
StatusId = Literal[3000, 3002]


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


MAX_RATE_PER_SECOND = 1_000_000
RateLimit = Annotated[float, Field(gt=0, le=MAX_RATE_PER_SECOND, strict=True, allow_inf_nan=False)]
"""`rateLimitPerSecond`: webhooks accepted per second on the integration, across every
process, a second's worth at once (beyond it 429 `rate_limited` with `Retry-After`);
`null` (the default) is no limit."""


class IntegrationCreate(_Body):
    name: str = Field(min_length=1, max_length=200)
    kind: Kind
    hub_id: str = Field(min_length=1, max_length=200)
    tenant_id: str | None = Field(None, min_length=1, max_length=200)
    status_id: StatusId = ACTIVE
    configuration: dict[str, Any] = Field(default_factory=dict)
    rate_limit_per_second: RateLimit | None = None


class DeclaredIntegration(IntegrationCreate):
    """A `[[integrations]]` table of the configuration file; a stable id keeps start-up
    idempotent (without one, the id is derived from hub, kind and name)."""

    integration_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._~-]{1,100}$")


class IntegrationUpdate(_Body):
    """Absent fields are left as they are; `rateLimitPerSecond: null` removes the limit."""

    name: str | None = Field(None, min_length=1, max_length=200)
    status_id: StatusId | None = None
    configuration: dict[str, Any] | None = None
    regenerate_keys: bool = False
    rate_limit_per_second: RateLimit | None = None
    grace_seconds: GraceSeconds | None = None
    """How long the credential this PATCH replaces keeps working (0: not at all); no earlier
    one works longer either. Default: the `rotation_grace_seconds` setting."""


class Integration(_Body):
    """The stored record. Its `credentials` are what the admin API shows as `configuration`
    (admin-only routes), with those still in rotation grace."""

    model_config = ConfigDict(extra="ignore")

    integration_id: str
    kind: Kind
    name: str
    hub_id: str
    tenant_id: str | None
    status_id: StatusId
    credentials: Credentials = Field(alias=RECORD_MEMBER)
    created_at: str
    updated_at: str
    rate_limit_per_second: float | None = None

    def public_view(self, now_ms: int) -> dict[str, Any]:
        """What the admin API returns: the current credentials as `configuration`; not the
        previous ones, but until when the last of them is still accepted (`null` when none
        is)."""
        view = self.model_dump(by_alias=True, exclude={"credentials"})
        view["configuration"] = dict(self.credentials.current)
        expires = self.credentials.previous_expire_at(now_ms)
        view["previousCredentialsExpireAt"] = None if expires is None else format_ms(expires)
        return view
