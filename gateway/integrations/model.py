"""Integration records, the admin API's request bodies, and the view it answers with."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
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
RATE_LIMIT = (
    "Webhooks accepted per second on the integration, across every process, a second's worth "
    "at once (beyond it 429 `rate_limited` with `Retry-After`); null (the default): no limit."
)
RateLimit = Annotated[
    float,
    Field(gt=0, le=MAX_RATE_PER_SECOND, strict=True, allow_inf_nan=False, description=RATE_LIMIT),
]
"""`rateLimitPerSecond`: see RATE_LIMIT."""


CONFIGURATION = """The credentials webhooks are checked with, by kind: `hubster-system` and \
`hubster-direct` `{publicSigningKey, privateSigningKey}` (32 upper-case hex characters each, \
generated unless given); `scg` `{username, password}` or `{bearerToken}` (generated unless \
given); `standard` `{secret}` (`whsec_`, generated unless given) or `{publicKey}` (`whpk_`, \
Ed25519); `twilio` `{authToken}`; `telnyx` `{publicKey}` (base64 of Telnyx's Ed25519 \
public key)."""
STATUS_ID = "3000 Active (webhooks accepted) or 3002 Paused (webhooks answered 409)."


class IntegrationCreate(_Body):
    """`POST /integrations` (and `[[integrations]]` in the configuration file)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "SMS",
                    "kind": "scg",
                    "hubId": "sms-hub",
                    "tenantId": "acme",
                    "configuration": {"username": "scg", "password": "change-me"},
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200)
    kind: Kind
    hub_id: str = Field(min_length=1, max_length=200)
    tenant_id: str | None = Field(None, min_length=1, max_length=200)
    status_id: StatusId = Field(ACTIVE, description=STATUS_ID)
    configuration: dict[str, Any] = Field(default_factory=dict, description=CONFIGURATION)
    rate_limit_per_second: RateLimit | None = None


class DeclaredIntegration(IntegrationCreate):
    """A `[[integrations]]` table of the configuration file; a stable id keeps start-up
    idempotent (without one, the id is derived from hub, kind and name)."""

    integration_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._~-]{1,100}$")


class IntegrationUpdate(_Body):
    """`PATCH /integrations/{id}`: what is given changes. `configuration` is merged into the
    current one (a key set to null is removed); a changed or regenerated credential leaves
    the previous one valid for the rotation grace; `rateLimitPerSecond: null` removes the
    limit."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"statusId": 3002}, {"regenerateKeys": True}]}
    )

    name: str | None = Field(None, min_length=1, max_length=200)
    status_id: StatusId | None = Field(None, description=STATUS_ID)
    configuration: dict[str, Any] | None = None
    regenerate_keys: bool = Field(
        False, description="New generated credentials (not for twilio or telnyx)."
    )
    rate_limit_per_second: RateLimit | None = None
    grace_seconds: GraceSeconds | None = None
    """How long the credential this PATCH replaces keeps working (0: not at all); no earlier
    one works longer either. Default: the `rotation_grace_seconds` setting."""


class IntegrationView(_Body):
    """An integration as the admin API shows it, credentials included."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "integrationId": "0b7c0a5e-4f0e-4d6c-8b9a-7f6e5d4c3b2a",
                    "kind": "scg",
                    "name": "SMS",
                    "hubId": "sms-hub",
                    "tenantId": "acme",
                    "statusId": 3000,
                    "configuration": {"username": "scg", "password": "change-me"},
                    "createdAt": "2026-12-03T16:00:00.000Z",
                    "updatedAt": "2026-12-03T16:00:00.000Z",
                    "rateLimitPerSecond": None,
                    "previousCredentialsExpireAt": None,
                }
            ]
        }
    )

    integration_id: str
    kind: Kind
    name: str
    hub_id: str
    tenant_id: str | None
    status_id: StatusId = Field(description=STATUS_ID)
    configuration: dict[str, Any] = Field(description=CONFIGURATION)
    created_at: AwareDatetime
    updated_at: AwareDatetime
    rate_limit_per_second: float | None = Field(description=RATE_LIMIT)
    previous_credentials_expire_at: AwareDatetime | None = Field(
        description="Until when the last credential replaced by a rotation is still "
        "accepted; null when none is."
    )


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
