"""Subscribers as stored: the record and the credentials that sign its deliveries.

A subscriber is kept in the registry as one camelCase JSON record: its public view without
the credentials, which are under `credentials` (the shared credential model's member: the
current secret or key pair, and the previous one while its grace lasts). `Subscriber` reads
and writes that record.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal

from gateway.credentials.rotation import MAX_PREVIOUS_ON_SUBSCRIBER, RECORD_MEMBER, Credentials
from gateway.credentials.schemes import HubsterKeys, Scheme, StandardKeys
from gateway.events.filters import TypeFilter
from gateway.subscribers.bodies import Format, SubscriberChanges, SubscriberCreate
from gateway.times import format_ms, format_seconds

DisabledReason = Literal["gone", "failing"]
SCHEMES: dict[str, type[Scheme]] = {"standard": StandardKeys, "hubster": HubsterKeys}
"""What signs a subscriber's deliveries, by format: a `whsec_` secret (`secret`) or a
Hubster key pair (`publicSigningKey`, `privateSigningKey`)."""


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
    credentials: Credentials

    @cached_property
    def _type_filter(self) -> TypeFilter:
        return TypeFilter(self.events)

    def wants(self, hub_id: str, event_type: str) -> bool:
        """Whether an event of this hub and type is owed to this subscriber."""
        if self.hub_ids is not None and hub_id not in self.hub_ids:
            return False
        return self._type_filter.matches(event_type)

    def enable(self) -> Subscriber:
        return replace(self, enabled=True, disabled_reason=None)

    def rotated(self, now: float, grace_seconds: float) -> Subscriber:
        """A new credential; the replaced one keeps signing for the grace (0: not at all).
        Only that one: a second rotation replaces it, as a receiver is promised two
        signatures during a rotation, never more."""
        new = SCHEMES[self.format].model_validate(self.credentials.current).regenerated()
        credentials = self.credentials.rotated(
            new, _ms(now), grace_seconds, MAX_PREVIOUS_ON_SUBSCRIBER
        )
        return replace(self, credentials=credentials)

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
        """The admin API's JSON (credentials included: these routes are admin-only).
        `previousSecretExpiresAt` says until when the previous secret (or key pair) still
        signs, and is null when none does."""
        expires = self.credentials.previous_expire_at(_ms(now))
        return {
            **self._fields(),
            **self.credentials.current,
            "previousSecretExpiresAt": None if expires is None else format_ms(expires),
        }

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
        }
        return body

    def to_record(self) -> dict[str, Any]:
        return {
            **self._fields(),
            "createdAtSeconds": self.created_at,
            RECORD_MEMBER: self.credentials.record(),
        }

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
            credentials=Credentials.model_validate(record[RECORD_MEMBER]),
        )


def new_subscriber(subscriber_id: str, body: SubscriberCreate, now: float) -> Subscriber:
    """The subscriber `body` asks for; its credential is the one given, else generated."""
    credential = SCHEMES[body.format].model_validate(body.credential()).completed()
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
        credentials=Credentials(current=credential),
    )


def _tuple_or_none(values: list[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


def _ms(epoch_seconds: float) -> int:
    return int(epoch_seconds * 1000)
