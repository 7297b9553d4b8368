"""Rotation: a holder's credentials, the current one and the previous ones a rotation
replaced, each still valid until an absolute expiry.

One rule for integrations and subscribers alike:

- A rotation makes a new credential current and gives the replaced one `grace_seconds`
  more (0 revokes it at once); it never extends an earlier one: every previous credential
  ends by then at the latest. The grace alone (no new credential) ends the previous ones
  early the same way.
- Previous credentials are capped, newest kept: every one is checked on every request that
  fails (an unauthenticated request with a bad signature costs one HMAC per credential), or
  signs every delivery.
- A credential that is current again (a rollback) is no longer also a previous one.

Records keep a holder's `Credentials` under one member, `RECORD_MEMBER`, with every expiry
in epoch milliseconds (`expiresAtMs`): that member is the only part of an integration or a
subscriber record that holds a secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from gateway.config import TEN_YEARS_SECONDS

MAX_PREVIOUS_ON_INTEGRATION = 3
"""An integration accepts its current credential and at most this many previous ones, so a
forged request costs at most four checks however often the keys were regenerated."""

MAX_PREVIOUS_ON_SUBSCRIBER = 1
"""A subscriber signs with its current secret and the one before it: during a rotation a
delivery carries both signatures, never more; a second rotation replaces the previous one."""

RECORD_MEMBER = "credentials"
"""The member of a registry record (integration, subscriber) that holds its `Credentials`,
and every secret of the record: what an engine encrypting secrets at rest encrypts."""

GraceSeconds = Annotated[float, Field(ge=0, le=TEN_YEARS_SECONDS, strict=True, allow_inf_nan=False)]
"""`graceSeconds` of a request: how long the replaced credential keeps working, 0 (revoke it
now) to ten years. A number only: neither a string nor a boolean."""


class _Stored(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class Previous(_Stored):
    """A credential a rotation replaced, accepted (or signing) until `expires_at_ms`."""

    credential: dict[str, str]
    expires_at_ms: int


class Credentials(_Stored):
    """The current credential and the previous ones, newest first."""

    current: dict[str, str]
    previous: tuple[Previous, ...] = ()

    def valid_at(self, now_ms: int) -> tuple[Mapping[str, str], ...]:
        """The current credential first, then every previous one whose grace lasts."""
        return (self.current, *(p.credential for p in self.previous if p.expires_at_ms > now_ms))

    def values(self, name: str, now_ms: int) -> list[str]:
        """Every valid value of one field (`secret`, `privateSigningKey`, ...), current first."""
        return field_values(self.valid_at(now_ms), name)

    def valid(self, now_ms: int) -> ValidCredentials:
        """`valid_at(now_ms)`, as it stays until the next grace ends."""
        ends = [p.expires_at_ms for p in self.previous if p.expires_at_ms > now_ms]
        return ValidCredentials(self.valid_at(now_ms), now_ms, min(ends, default=_NEVER))

    def previous_expire_at(self, now_ms: int) -> int | None:
        """Until when the last previous credential is still valid; None when none is."""
        return max(
            (p.expires_at_ms for p in self.previous if p.expires_at_ms > now_ms), default=None
        )

    def rotated(
        self, new: Mapping[str, str], now_ms: int, grace_seconds: float, keep: int
    ) -> Credentials:
        """`new` is current; the replaced credential and the earlier ones are valid for at
        most `grace_seconds` more, the newest `keep` of them."""
        until = _grace_end(now_ms, grace_seconds)
        replaced = Previous(credential=self.current, expires_at_ms=until)
        previous = _ending_by((replaced, *self.previous), new, now_ms, until)
        return Credentials(current=dict(new), previous=previous[:keep])

    def graced(self, now_ms: int, grace_seconds: float) -> Credentials:
        """The previous credentials valid for at most `grace_seconds` more (0: none is)."""
        until = _grace_end(now_ms, grace_seconds)
        previous = _ending_by(self.previous, self.current, now_ms, until)
        return self.model_copy(update={"previous": previous})

    def record(self) -> dict[str, Any]:
        """The JSON stored under `RECORD_MEMBER`."""
        return self.model_dump(by_alias=True)


_NEVER = 2**63


class ValidCredentials:
    """The credentials valid from `from_ms` until `until_ms` (when a grace ends next):
    the current one first, then the previous ones still in their grace, each field's values
    worked out once. Whoever keeps a holder keeps this beside it for as long as it holds,
    instead of filtering the credentials on every request."""

    __slots__ = ("_values", "configurations", "from_ms", "until_ms")

    def __init__(
        self, configurations: tuple[Mapping[str, str], ...], from_ms: int, until_ms: int
    ) -> None:
        self.configurations = configurations
        self.from_ms, self.until_ms = from_ms, until_ms
        self._values: dict[str, tuple[str, ...]] = {}

    def holds_at(self, now_ms: int) -> bool:
        return self.from_ms <= now_ms < self.until_ms

    def values(self, name: str) -> tuple[str, ...]:
        """Every value of one field, current first, each once (`field_values`)."""
        found = self._values.get(name)
        if found is None:
            found = self._values[name] = tuple(field_values(self.configurations, name))
        return found


def field_values(credentials: Iterable[Mapping[str, str]], name: str) -> list[str]:
    """The distinct non-empty values of one field over `credentials`, in order: a key that
    two credentials share (a PATCH that kept it) is checked once."""
    values = (credential.get(name) for credential in credentials)
    return list(dict.fromkeys(value for value in values if isinstance(value, str) and value))


def _grace_end(now_ms: int, grace_seconds: float) -> int:
    return now_ms + round(grace_seconds * 1000)


def _ending_by(
    previous: Iterable[Previous], current: Mapping[str, str], now_ms: int, until_ms: int
) -> tuple[Previous, ...]:
    """Each previous credential ending by `until_ms` at the latest, without those already
    over and any that is the current one again."""
    ending = (
        Previous(credential=p.credential, expires_at_ms=min(p.expires_at_ms, until_ms))
        for p in previous
        if p.credential != current
    )
    return tuple(p for p in ending if p.expires_at_ms > now_ms)
