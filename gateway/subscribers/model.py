"""Subscribers: the admin API's bodies (pydantic, at the boundary) and the stored record.

A subscriber is kept in the registry as one camelCase JSON record: its public view plus the
previous credential of a rotation still in grace. `Subscriber` reads and writes that record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Annotated, Any, Literal
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
from gateway.events.filters import TypeFilter, check_filter
from gateway.events.times import format_seconds

Format = Literal["standard", "hubster"]
DisabledReason = Literal["gone", "failing"]

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


@dataclass(frozen=True)
class Credential:
    """What signs a subscriber's deliveries: a `whsec_` secret (standard) or a Hubster key
    pair (`secret` is then the private key, `public_key` its public identifier)."""

    secret: str
    public_key: str | None = None

    @staticmethod
    def generate(format: Format) -> Credential:
        if format == "hubster":
            pair = signing.hubster.generate_key_pair()
            return Credential(pair.private_signing_key, pair.public_signing_key)
        return Credential(signing.standard.generate_secret())

    def view(self) -> dict[str, str]:
        if self.public_key is None:
            return {"secret": self.secret}
        return {"publicSigningKey": self.public_key, "privateSigningKey": self.secret}


@dataclass(frozen=True)
class Subscriber:
    id: str
    url: str
    events: tuple[str, ...]
    hub_ids: tuple[str, ...] | None
    format: Format
    ordered: bool
    rate_limit_per_second: float | None
    disable_after_seconds: float
    description: str | None
    enabled: bool
    disabled_reason: DisabledReason | None
    created_at: float
    credential: Credential
    previous_credential: Credential | None = None
    previous_expires_at: float | None = None

    @cached_property
    def _type_filter(self) -> TypeFilter:
        return TypeFilter(self.events)

    def wants(self, hub_id: str, event_type: str) -> bool:
        """Whether an event of this hub and type is owed to this subscriber."""
        if self.hub_ids is not None and hub_id not in self.hub_ids:
            return False
        return self._type_filter.matches(event_type)

    def credentials(self, now: float) -> list[Credential]:
        """The current credential, then the previous one while its grace lasts."""
        if self.previous_credential is None or (self.previous_expires_at or 0) <= now:
            return [self.credential]
        return [self.credential, self.previous_credential]

    def enable(self) -> Subscriber:
        return replace(self, enabled=True, disabled_reason=None)

    def rotated(self, now: float, grace_seconds: float) -> Subscriber:
        return replace(
            self,
            credential=Credential.generate(self.format),
            previous_credential=self.credential,
            previous_expires_at=now + grace_seconds,
        )

    def changed(self, changes: SubscriberChanges) -> Subscriber:
        given = changes.model_fields_set
        updated = self
        if "url" in given and changes.url is not None:
            updated = replace(updated, url=changes.url)
        if "events" in given and changes.events is not None:
            updated = replace(updated, events=tuple(changes.events))
        if "hubIds" in given:
            updated = replace(updated, hub_ids=_tuple_or_none(changes.hubIds))
        if "ordered" in given and changes.ordered is not None:
            updated = replace(updated, ordered=changes.ordered)
        if "rateLimitPerSecond" in given:
            updated = replace(updated, rate_limit_per_second=changes.rateLimitPerSecond)
        if "disableAfterSeconds" in given and changes.disableAfterSeconds is not None:
            updated = replace(updated, disable_after_seconds=changes.disableAfterSeconds)
        if "description" in given:
            updated = replace(updated, description=changes.description)
        return updated

    def view(self) -> dict[str, Any]:
        """The admin API's JSON (credentials included: these routes are admin-only)."""
        body: dict[str, Any] = {
            "subscriberId": self.id,
            "url": self.url,
            "events": list(self.events),
            "hubIds": None if self.hub_ids is None else list(self.hub_ids),
            "format": self.format,
            "ordered": self.ordered,
            "rateLimitPerSecond": self.rate_limit_per_second,
            "disableAfterSeconds": self.disable_after_seconds,
            "description": self.description,
            "enabled": self.enabled,
            "disabledReason": self.disabled_reason,
            "createdAt": format_seconds(self.created_at),
            **self.credential.view(),
        }
        if self.previous_expires_at is not None:
            body["previousSecretExpiresAt"] = format_seconds(self.previous_expires_at)
        return body

    def to_record(self) -> dict[str, Any]:
        record = self.view()
        record["createdAtSeconds"] = self.created_at
        if self.previous_credential is not None:
            record["previous"] = self.previous_credential.view()
            record["previousExpiresAtSeconds"] = self.previous_expires_at
        return record

    @staticmethod
    def from_record(record: dict[str, Any]) -> Subscriber:
        previous = record.get("previous")
        return Subscriber(
            id=record["subscriberId"],
            url=record["url"],
            events=tuple(record["events"]),
            hub_ids=_tuple_or_none(record["hubIds"]),
            format=record["format"],
            ordered=record["ordered"],
            rate_limit_per_second=record["rateLimitPerSecond"],
            disable_after_seconds=record["disableAfterSeconds"],
            description=record["description"],
            enabled=record["enabled"],
            disabled_reason=record["disabledReason"],
            created_at=record["createdAtSeconds"],
            credential=_credential_from(record),
            previous_credential=None if previous is None else _credential_from(previous),
            previous_expires_at=record.get("previousExpiresAtSeconds"),
        )


def new_subscriber(subscriber_id: str, body: SubscriberCreate, now: float) -> Subscriber:
    credential = Credential.generate(body.format)
    if body.format == "standard" and body.secret is not None:
        credential = Credential(body.secret)
    if body.format == "hubster" and body.privateSigningKey and body.publicSigningKey:
        credential = Credential(body.privateSigningKey, body.publicSigningKey)
    return Subscriber(
        id=subscriber_id,
        url=body.url,
        events=tuple(body.events),
        hub_ids=_tuple_or_none(body.hubIds),
        format=body.format,
        ordered=body.ordered,
        rate_limit_per_second=body.rateLimitPerSecond,
        disable_after_seconds=body.disableAfterSeconds,
        description=body.description,
        enabled=True,
        disabled_reason=None,
        created_at=now,
        credential=credential,
    )


def _tuple_or_none(values: list[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


def _credential_from(fields: dict[str, Any]) -> Credential:
    if "privateSigningKey" in fields:
        return Credential(fields["privateSigningKey"], fields["publicSigningKey"])
    return Credential(fields["secret"])
