"""The admin API's subscriber bodies (and `[[subscribers]]` tables): validated at the
boundary, every problem reported with the field it is in."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

import signing
from gateway.events.filters import check_filter

Format = Literal["standard", "hubster"]

DEFAULT_DISABLE_AFTER_SECONDS = 432000.0
MAX_URL_LENGTH = 2048
_HUBSTER_KEY = re.compile(r"^[0-9A-F]{32}$")


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host; where it points is the SSRF guard's job."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http or https URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials")
    if port == 0:
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
    rateLimitPerSecond: float | None = Field(None, gt=0)
    disableAfterSeconds: float | None = Field(None, gt=0)
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
    rateLimitPerSecond: float | None = Field(None, gt=0)
    disableAfterSeconds: float = Field(DEFAULT_DISABLE_AFTER_SECONDS, gt=0)
    description: str | None = Field(None, max_length=1000)
    secret: str | None = None
    publicSigningKey: str | None = None
    privateSigningKey: str | None = None

    _url = field_validator("url")(check_url)
    _hub_ids = field_validator("hubIds")(_check_hub_ids)

    @field_validator("secret")
    @classmethod
    def _whsec(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("whsec_"):
            raise ValueError("must be a whsec_ secret")
        if value is not None:
            signing.standard.load_key(value)
        return value

    @field_validator("publicSigningKey", "privateSigningKey")
    @classmethod
    def _hubster_key(cls, value: str | None) -> str | None:
        if value is not None and not _HUBSTER_KEY.match(value):
            raise ValueError("must be 32 upper-case hex characters")
        return value

    @model_validator(mode="after")
    def _credentials_fit_format(self) -> SubscriberCreate:
        pair = (self.publicSigningKey, self.privateSigningKey)
        if self.format == "standard" and pair != (None, None):
            raise ValueError("publicSigningKey/privateSigningKey are for the hubster format")
        if self.format == "hubster" and self.secret is not None:
            raise ValueError("secret is for the standard format")
        if (pair[0] is None) != (pair[1] is None):
            raise ValueError("give both publicSigningKey and privateSigningKey, or neither")
        return self
