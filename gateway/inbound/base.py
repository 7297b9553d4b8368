"""What every provider adapter takes and gives, free of aiohttp so adapters stay pure.
Adapters refuse a webhook by raising `InboundError` (gateway.errors).

An adapter works in two steps. `read` verifies the request and parses its body into a
`Webhook`; that webhook's `dedup_keys` says which provider events it carries, and only then
does `normalise` build the activities. The handler asks the engine about the keys in
between: a redelivery of what is stored already is answered without normalising it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from gateway.credentials.rotation import ValidCredentials
from gateway.errors import InboundError
from gateway.events.activity import Destination, KeyedActivity
from gateway.times import format_ms
from signing import VerificationError


class InboundRequest(NamedTuple):
    """The request as the provider sent it. `url` is the URL the provider called, for an
    adapter that `signs_url` (Twilio signs it), else ""; `media_type` is the Content-Type
    without parameters, lower-cased. A tuple: made per request."""

    headers: Mapping[str, str]
    body: bytes
    url: str
    media_type: str


class Receiver:
    """The receiving integration as an adapter needs it, at the moment `now` a request
    came in. `valid` holds the credentials valid then: the current one first, then any
    still in rotation grace, at most four in all. `max_activities` is how many activities
    one body may carry (413 above it): adapters reading a list check its length before
    normalising any of it.

    `destination`, where the activities land stamped with that moment, is made the first
    time an adapter builds an activity: a webhook answered as a redelivery never needs it.
    Made per request, so plain slots rather than a frozen dataclass (whose `__init__` sets
    each field through `object.__setattr__`, several times the cost)."""

    __slots__ = (
        "_destination",
        "hub_id",
        "integration_id",
        "max_activities",
        "now",
        "tenant_id",
        "valid",
    )

    def __init__(
        self,
        integration_id: str,
        hub_id: str,
        tenant_id: str | None,
        valid: ValidCredentials,
        now: float,
        max_activities: int,
    ) -> None:
        self.integration_id, self.hub_id, self.tenant_id = integration_id, hub_id, tenant_id
        self.valid, self.now, self.max_activities = valid, now, max_activities
        self._destination: Destination | None = None

    @property
    def configurations(self) -> tuple[Mapping[str, Any], ...]:
        return self.valid.configurations

    def credentials(self, name: str) -> tuple[str, ...]:
        """Every valid value of one credential field, current first, each once."""
        return self.valid.values(name)

    @property
    def destination(self) -> Destination:
        destination = self._destination
        if destination is None:
            destination = self._destination = Destination(
                self.integration_id,
                self.hub_id,
                self.tenant_id,
                format_ms(int(self.now * 1000)),
            )
        return destination


class Webhook(Protocol):
    """A provider's webhook, verified and parsed: known to come from the provider, with
    nothing built from it yet."""

    def dedup_keys(self) -> list[str]:
        """The dedup key of every activity `normalise` would make, in its order, read from
        the parsed body without making any. May refuse a body `normalise` would refuse
        (the caller then lets `normalise` say why, in its own order of checks)."""
        ...

    def normalise(self) -> list[KeyedActivity]:
        """The activities, each with its dedup key."""
        ...


Read = Callable[[InboundRequest, Receiver], Webhook]
Authenticate = Callable[[Mapping[str, str], Receiver], None]


@dataclass(frozen=True, slots=True)
class Adapter:
    """One provider: the media types it takes (the first is what a missing Content-Type
    means) and its pure verify-and-parse function. A provider whose credential is in the
    headers alone (no signature over the body) also gives `authenticate`, which the handler
    runs before reading a body of declared length: an unauthenticated sender then never gets
    its body read. `read` still authenticates by itself. `signs_url`: the provider signs the
    URL it called, which the handler then works out for it."""

    media_types: tuple[str, ...]
    read: Read
    authenticate: Authenticate | None = None
    signs_url: bool = False


def too_many_activities(count: int, limit: int) -> InboundError:
    return InboundError(
        "payload_too_large",
        f"The body carries {count} activities; at most {limit} are accepted in one webhook.",
        413,
    )


def refused(error: VerificationError) -> InboundError:
    """A signature scheme's refusal in the contract's terms: nothing presented is 401, a
    wrong or malformed signature 403, a stale timestamp its own 403."""
    if error.reason == "missing_header":
        return InboundError("unauthorized", "The request carries no signature.", 401)
    if error.reason == "timestamp_out_of_tolerance":
        return InboundError(
            "timestamp_out_of_tolerance", "The signature timestamp is too far from now.", 403
        )
    if error.reason == "credential_invalid":
        return InboundError("unauthorized", "The credential is not accepted.", 401)
    return InboundError("signature_invalid", "The signature does not match.", 403)


def check_scope(hub_id: Any, tenant_id: Any, receiver: Receiver) -> None:
    """The hub and tenant of an activity are the integration's, whatever the body claims:
    a body naming another hub or tenant is refused; naming none is fine."""
    if hub_id is not None and hub_id != receiver.hub_id:
        raise InboundError.invalid_payload("hubId: this integration belongs to another hub.")
    if tenant_id is not None and tenant_id != receiver.tenant_id:
        raise InboundError.invalid_payload("tenantId: this integration belongs to another tenant.")
