"""Subscribers as stored: the record and the credentials that sign its deliveries.

A subscriber is kept in the registry as one camelCase JSON record: its public view plus the
previous credentials of recent rotations with when each stops working. `Subscriber` reads
and writes that record.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal

import signing
from gateway.events.filters import TypeFilter
from gateway.subscribers.bodies import Format, SubscriberChanges, SubscriberCreate
from gateway.times import format_seconds

DisabledReason = Literal["gone", "failing"]
MAX_PREVIOUS_CREDENTIALS = 3


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
    previous: tuple[tuple[Credential, float], ...] = ()
    """Credentials replaced by rotations, newest first, each with when its grace ends."""

    @cached_property
    def _type_filter(self) -> TypeFilter:
        return TypeFilter(self.events)

    def wants(self, hub_id: str, event_type: str) -> bool:
        """Whether an event of this hub and type is owed to this subscriber."""
        if self.hub_ids is not None and hub_id not in self.hub_ids:
            return False
        return self._type_filter.matches(event_type)

    def credentials(self, now: float) -> list[Credential]:
        """The current credential, then every previous one whose grace still lasts."""
        return [self.credential, *(old for old, expires in self.previous if expires > now)]

    def enable(self) -> Subscriber:
        return replace(self, enabled=True, disabled_reason=None)

    def rotated(self, now: float, grace_seconds: float) -> Subscriber:
        """A new credential; the replaced one keeps working for the grace, and so do earlier
        ones still in theirs (the newest `MAX_PREVIOUS_CREDENTIALS` of them): rotating twice
        in a row must not cut off a receiver still on the first secret."""
        in_grace = tuple(entry for entry in self.previous if entry[1] > now)
        return replace(
            self,
            credential=Credential.generate(self.format),
            previous=((self.credential, now + grace_seconds), *in_grace)[:MAX_PREVIOUS_CREDENTIALS],
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

    def view(self, now: float) -> dict[str, Any]:
        """The admin API's JSON (credentials included: these routes are admin-only). After a
        rotation, `previousSecretExpiresAt` says until when an earlier secret still works,
        and is null once none does."""
        body = self._fields()
        if self.previous:
            in_grace = [expires for _, expires in self.previous if expires > now]
            body["previousSecretExpiresAt"] = format_seconds(max(in_grace)) if in_grace else None
        return body

    def _fields(self) -> dict[str, Any]:
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
        return body

    def to_record(self) -> dict[str, Any]:
        record = self._fields()
        record["createdAtSeconds"] = self.created_at
        record["previousCredentials"] = [
            {**old.view(), "expiresAtSeconds": expires} for old, expires in self.previous
        ]
        return record

    @staticmethod
    def from_record(record: dict[str, Any]) -> Subscriber:
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
            previous=tuple(
                (_credential_from(old), old["expiresAtSeconds"])
                for old in record.get("previousCredentials", ())
            ),
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
