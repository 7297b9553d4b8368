"""The admin API's subscriber bodies (and `[[subscribers]]` tables): validated at the
boundary, every problem reported with the field it is in."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)
from yarl import URL

from gateway.credentials.rotation import GraceSeconds
from gateway.credentials.schemes import HubsterKey, WebhookSecret, check_key_pair
from gateway.events.filters import check_filter

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


EventFilter = Annotated[str, AfterValidator(check_filter)]


def _check_optional_url(url: str | None) -> str | None:
    return None if url is None else check_url(url)


def _check_hub_ids(values: list[str] | None) -> list[str] | None:
    if values is not None and not values:
        raise ValueError("give at least one hub id, or leave it out (or null) for every hub")
    if values is not None and any(not value.strip() for value in values):
        raise ValueError("hub ids must not be empty")
    return values


class SubscriberChanges(BaseModel):
    """`PATCH /subscribers/{id}`: any of the mutable fields."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    events: list[EventFilter] | None = Field(None, min_length=1)
    hubIds: list[str] | None = None
    ordered: StrictBool | None = None
    rateLimitPerSecond: float | None = Field(
        None, gt=0, le=MAX_RATE_PER_SECOND, allow_inf_nan=False
    )
    disableAfterSeconds: float | None = Field(
        None, gt=0, le=MAX_DISABLE_AFTER_SECONDS, allow_inf_nan=False
    )
    description: str | None = Field(None, max_length=1000)

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

    model_config = ConfigDict(extra="forbid")

    url: str
    events: list[EventFilter] = Field(min_length=1)
    hubIds: list[str] | None = None
    format: Format = "standard"
    ordered: StrictBool = False
    rateLimitPerSecond: float | None = Field(
        None, gt=0, le=MAX_RATE_PER_SECOND, allow_inf_nan=False
    )
    disableAfterSeconds: float = Field(
        DEFAULT_DISABLE_AFTER_SECONDS, gt=0, le=MAX_DISABLE_AFTER_SECONDS, allow_inf_nan=False
    )
    description: str | None = Field(None, max_length=1000)
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

    model_config = ConfigDict(extra="forbid")

    graceSeconds: GraceSeconds | None = None
