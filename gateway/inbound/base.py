"""What every provider adapter takes and gives, free of aiohttp so adapters stay pure.
Adapters refuse a webhook by raising `InboundError` (gateway.errors)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.credentials.rotation import field_values
from gateway.errors import InboundError
from gateway.events.activity import Destination, KeyedActivity
from signing import VerificationError


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """The request as the provider sent it. `url` is the URL the provider called (what
    Twilio signs); `media_type` is the Content-Type without parameters, lower-cased."""

    headers: Mapping[str, str]
    body: bytes
    url: str
    media_type: str


@dataclass(frozen=True, slots=True)
class Receiver:
    """The receiving integration as an adapter needs it. `configurations` are the
    credentials valid now (`Credentials.valid_at`): the current one first, then any still
    in rotation grace, at most four in all."""

    destination: Destination
    configurations: tuple[Mapping[str, Any], ...]
    now: float
    max_activities: int
    """Activities one body may carry (413 above it): adapters reading a list check its
    length before normalising any of it."""

    def credentials(self, name: str) -> list[str]:
        """Every valid value of one credential field, current first, each once."""
        return field_values(self.configurations, name)


Normalise = Callable[[InboundRequest, Receiver], list[KeyedActivity]]
Authenticate = Callable[[Mapping[str, str], Receiver], None]


@dataclass(frozen=True, slots=True)
class Adapter:
    """One provider: the media types it takes (the first is what a missing Content-Type
    means) and its pure verify-and-normalise function. A provider whose credential is in
    the headers alone (no signature over the body) also gives `authenticate`, which the
    handler runs before reading a body of declared length: an unauthenticated sender then
    never gets its body read. `normalise` still authenticates by itself."""

    media_types: tuple[str, ...]
    normalise: Normalise
    authenticate: Authenticate | None = None


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


def check_scope(hub_id: Any, tenant_id: Any, destination: Destination) -> None:
    """The hub and tenant of an activity are the integration's, whatever the body claims:
    a body naming another hub or tenant is refused; naming none is fine."""
    if hub_id is not None and hub_id != destination.hub_id:
        raise InboundError.invalid_payload("hubId: this integration belongs to another hub.")
    if tenant_id is not None and tenant_id != destination.tenant_id:
        raise InboundError.invalid_payload("tenantId: this integration belongs to another tenant.")
