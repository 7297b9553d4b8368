"""The activity event (docs/activity-events.md) as pydantic models: the JSON Schema served at
`/schema/activity.json`, and the validator for `standard` bodies that already are activities.

Normalisation does not go through these models (see `activity.py`): they are the boundary's
description, not the hot path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from gateway.events.filters import FAMILIES, check_filter

Role = Literal["customer", "agent", "bot", "system"]
Provider = Literal["hubster", "scg", "standard", "telnyx", "twilio"]
# Providers count attempts in the tens; the cap keeps a sender's number inside what every
# consumer (and orjson, 64 bits) can take.
MAX_ATTEMPT = 2**31 - 1


class _Shape(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class _OpenShape(_Shape):
    """Provider-defined objects: the listed keys are checked, any others kept as they are."""

    model_config = ConfigDict(extra="allow")


class Party(_Shape):
    role: Role
    id: str | None = None
    address: str | None = None


class Source(_Shape):
    provider: Provider
    event_id: str
    attempt: int = Field(1, ge=1, le=MAX_ATTEMPT)
    echo: bool = False


class Message(_OpenShape):
    """A Hubster-shaped message (`text`, `image`, `attachment`, ...), kept as sent."""

    type: str = Field(min_length=1)


class Receipt(_Shape):
    message_id: str | None = None
    state: str = Field(min_length=1)
    previous_state: str | None = None
    reason_code: str | int | None = None
    reason_description: str | None = None
    price: float | str | None = None

    @field_validator("state", "previous_state")
    @classmethod
    def _lower_case(cls, value: str | None) -> str | None:
        return None if value is None else value.lower()


class Event(_OpenShape):
    type: str = Field(min_length=1)


class _ActivityCore(_Shape):
    """What every activity must carry, whoever built it."""

    type: str
    occurred_at: AwareDatetime
    source: Source
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range once converted to UTC") from None

    @field_validator("type")
    @classmethod
    def _vocabulary_type(cls, value: str) -> str:
        check_filter(value)
        if value in FAMILIES or value == "*":
            raise ValueError("must be `family:name`, e.g. `message:customer`")
        return value


class ActivityEvent(_ActivityCore):
    """One activity event as the gateway stores and sends it."""

    id: str
    received_at: AwareDatetime
    tenant_id: str | None
    hub_id: str
    integration_id: str
    conversation_id: str | None
    channel: str | None
    sender: Party | None
    recipient: Party | None
    message: Message | None
    receipt: Receipt | None
    event: Event | None


class SubmittedActivity(_ActivityCore):
    """An activity a `standard` sender posts: what the gateway fills in may be left out
    (`id`, `receivedAt`, `integrationId`, the hub and tenant, null members, and `source`
    and `occurredAt`, which the gateway takes from the signed `webhook-id` and the time of
    receipt)."""

    occurred_at: AwareDatetime | None = None  # type: ignore[assignment]
    source: Source | None = None  # type: ignore[assignment]
    id: str | None = None
    received_at: AwareDatetime | None = None
    tenant_id: str | None = None
    hub_id: str | None = None
    integration_id: str | None = None
    conversation_id: str | None = None
    channel: str | None = None
    sender: Party | None = None
    recipient: Party | None = None
    message: Message | None = None
    receipt: Receipt | None = None
    event: Event | None = None


def activity_json_schema() -> dict[str, Any]:
    schema = ActivityEvent.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "/schema/activity.json"
    return schema
