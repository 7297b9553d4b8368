"""The admin API's subscriber bodies (and `[[subscribers]]` tables): validated at the
boundary, every problem reported with the field it is in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from yarl import URL

from gateway.credentials.rotation import GraceSeconds
from gateway.credentials.schemes import HubsterKey, WebhookSecret, check_key_pair
from gateway.engine.ids import EVENT_ID_PATTERN, is_event_id, last_id_at
from gateway.events.filters import EventFilter
from gateway.times import epoch_ms, parse_rfc3339

Format = Literal["standard", "hubster"]

DEFAULT_DISABLE_AFTER_SECONDS = 432000.0
MAX_URL_LENGTH = 2048
MAX_RATE_PER_SECOND = 10_000.0
MAX_DISABLE_AFTER_SECONDS = 10 * 365 * 86400.0


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host; where it points is the SSRF guard's job. Parsed
    by yarl, as aiohttp parses it when delivering, so what is checked is what is reached."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parsed = URL(url)
    except (ValueError, UnicodeError) as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise ValueError("must be an http or https URL")
    if not parsed.raw_host:
        raise ValueError("must name a host")
    if parsed.raw_user is not None or parsed.raw_password is not None:
        raise ValueError("must not carry credentials")
    if parsed.explicit_port == 0:
        raise ValueError("must not use port 0")
    return url


def _check_optional_url(url: str | None) -> str | None:
    return None if url is None else check_url(url)


Url = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "format": "uri",
            "maxLength": MAX_URL_LENGTH,
            "description": "Where deliveries are POSTed: an http(s) URL whose host resolves "
            "to public addresses only.",
        }
    ),
]
HubIds = Annotated[
    list[str],
    WithJsonSchema(
        {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "pattern": r"\S"},
            "description": "Only events of these hubs; null or absent: every hub.",
        }
    ),
]
RatePerSecond = Annotated[
    float,
    Field(
        gt=0,
        le=MAX_RATE_PER_SECOND,
        allow_inf_nan=False,
        description="At most this many deliveries a second; null: no limit.",
    ),
]
DisableAfterSeconds = Annotated[
    float,
    Field(
        gt=0,
        le=MAX_DISABLE_AFTER_SECONDS,
        allow_inf_nan=False,
        description="Disabled once every delivery has failed for this long.",
    ),
]
Description = Annotated[str, Field(max_length=1000)]
Events = Annotated[
    list[EventFilter],
    Field(min_length=1, description="The event types it gets: types, families or `*`."),
]


def _no_default(schema: dict[str, Any]) -> None:
    """A field that may be left out but not set to null has no default worth showing."""
    schema.pop("default", None)


def _check_hub_ids(values: list[str] | None) -> list[str] | None:
    if values is not None and not values:
        raise ValueError("give at least one hub id, or leave it out (or null) for every hub")
    if values is not None and any(not value.strip() for value in values):
        raise ValueError("hub ids must not be empty")
    return values


class SubscriberChanges(BaseModel):
    """`PATCH /subscribers/{id}`: any of the mutable fields; a field left out keeps its
    value. Only `hubIds`, `rateLimitPerSecond` and `description` may be set to null."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"events": ["message", "receipt:failed"]}]},
    )

    url: Url | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)
    events: Events | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)
    hubIds: HubIds | None = None
    ordered: StrictBool | SkipJsonSchema[None] = Field(None, json_schema_extra=_no_default)
    rateLimitPerSecond: RatePerSecond | None = None
    disableAfterSeconds: DisableAfterSeconds | SkipJsonSchema[None] = Field(
        None, json_schema_extra=_no_default
    )
    description: Description | None = None

    _url = field_validator("url")(_check_optional_url)
    _hub_ids = field_validator("hubIds")(_check_hub_ids)

    @field_validator("url", "events", "ordered", "disableAfterSeconds", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        """Leaving a field out keeps it; only hubIds, rateLimitPerSecond and description
        can be set to null."""
        if value is None:
            raise ValueError("must not be null")
        return value


class SubscriberCreate(BaseModel):
    """`POST /subscribers` (and `[[subscribers]]` in the configuration file). Credentials
    are generated unless given."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://example.com/webhooks/gateway",
                    "events": ["message", "receipt:failed"],
                    "hubIds": ["sms-hub"],
                    "description": "CRM sync",
                }
            ]
        },
    )

    url: Url
    events: Events
    hubIds: HubIds | None = None
    format: Format = Field(
        "standard", description="`standard` (Standard Webhooks) or `hubster` (System webhooks)."
    )
    ordered: StrictBool = Field(
        False, description="Events of one conversation one at a time, in id order."
    )
    rateLimitPerSecond: RatePerSecond | None = None
    disableAfterSeconds: DisableAfterSeconds = DEFAULT_DISABLE_AFTER_SECONDS
    description: Description | None = None
    secret: WebhookSecret | None = None
    publicSigningKey: HubsterKey | None = None
    privateSigningKey: HubsterKey | None = None

    _url = field_validator("url")(check_url)
    _hub_ids = field_validator("hubIds")(_check_hub_ids)

    @model_validator(mode="after")
    def _credentials_fit_format(self) -> SubscriberCreate:
        pair = (self.publicSigningKey, self.privateSigningKey)
        if self.format == "standard" and pair != (None, None):
            raise ValueError("publicSigningKey/privateSigningKey are for the hubster format")
        if self.format == "hubster" and self.secret is not None:
            raise ValueError("secret is for the standard format")
        check_key_pair(*pair)
        return self

    def credential(self) -> dict[str, str]:
        """The credential given (a secret or a key pair), if any, as its fields."""
        fields = {"secret", "publicSigningKey", "privateSigningKey"}
        return self.model_dump(include=fields, exclude_none=True)


class RotateRequest(BaseModel):
    """`POST /subscribers/{id}/rotate`: an empty body, or how long the replaced secret (or
    key pair) keeps signing."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"graceSeconds": 3600}]}
    )

    graceSeconds: GraceSeconds | None = Field(
        None,
        description="How long the replaced credential keeps signing (0: it stops now); "
        "default `GATEWAY_ROTATION_GRACE_SECONDS`.",
    )


def _rfc3339(value: object) -> datetime:
    """Only RFC 3339 text is a time here (not a number of epoch seconds, not a bare date)."""
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 time string")
    return parse_rfc3339(value)


Rfc3339 = Annotated[
    datetime,
    PlainValidator(_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class ReplayRequest(BaseModel):
    """`{since, until?}` (RFC 3339) or `{afterEventId, until?}`."""

    model_config = ConfigDict(extra="forbid")

    since: Rfc3339 | None = None
    until: Rfc3339 | None = None
    afterEventId: str | None = Field(
        None,
        json_schema_extra={"pattern": EVENT_ID_PATTERN},
        description="Replay the events after this one (a gateway event id).",
    )

    @model_validator(mode="after")
    def _one_start(self) -> ReplayRequest:
        if (self.since is None) == (self.afterEventId is None):
            raise ValueError("give either since (an RFC 3339 time) or afterEventId")
        if self.afterEventId is not None and not is_event_id(self.afterEventId):
            raise ValueError("afterEventId is not a gateway event id")
        if self.since is not None and self.until is not None and self.until < self.since:
            raise ValueError("until is before since")
        return self

    def after_cursor(self) -> str:
        """The replay starts after this id: the given one, or just before `since`."""
        if self.since is not None:
            return last_id_at(epoch_ms(self.since) - 1)
        return str(self.afterEventId)

    def last_id(self) -> str | None:
        return None if self.until is None else last_id_at(epoch_ms(self.until))
