"""The shared credential model's rotation rule, on its own clock: the replaced credential
keeps its grace and no earlier one outlives it, 0 revokes, the caps keep the newest, a
credential current again is not also previous, and the record round-trips as JSON."""

from __future__ import annotations

import orjson
import pytest
from pydantic import BaseModel, ValidationError

from gateway.credentials.rotation import (
    MAX_PREVIOUS_ON_INTEGRATION,
    MAX_PREVIOUS_ON_SUBSCRIBER,
    Credentials,
    GraceSeconds,
    Previous,
    field_values,
)

T0 = 1_700_000_000_000


def key(n: int) -> dict[str, str]:
    return {"secret": f"s{n}"}


def secrets_at(credentials: Credentials, now_ms: int) -> list[str]:
    return credentials.values("secret", now_ms)


def test_the_replaced_credential_is_valid_for_its_grace_then_not() -> None:
    rotated = Credentials(current=key(0)).rotated(key(1), T0, 60, keep=3)
    assert rotated.previous == (Previous(credential=key(0), expires_at_ms=T0 + 60_000),)
    assert secrets_at(rotated, T0 + 59_999) == ["s1", "s0"]
    assert secrets_at(rotated, T0 + 60_000) == ["s1"]
    assert rotated.previous_expire_at(T0) == T0 + 60_000
    assert rotated.previous_expire_at(T0 + 60_000) is None


def test_zero_grace_revokes_the_replaced_credential_and_every_earlier_one() -> None:
    credentials = Credentials(current=key(0)).rotated(key(1), T0, 3600, keep=3)
    revoked = credentials.rotated(key(2), T0 + 1000, 0, keep=3)
    assert revoked.previous == ()
    assert secrets_at(revoked, T0 + 1000) == ["s2"]


def test_a_rotation_never_extends_an_earlier_grace_and_may_shorten_it() -> None:
    credentials = Credentials(current=key(0)).rotated(key(1), T0, 10, keep=3)
    longer = credentials.rotated(key(2), T0 + 1000, 86400, keep=3)
    assert [p.expires_at_ms for p in longer.previous] == [T0 + 1000 + 86_400_000, T0 + 10_000]
    shorter = longer.rotated(key(3), T0 + 2000, 5, keep=3)
    assert [p.expires_at_ms for p in shorter.previous] == [T0 + 7000, T0 + 7000, T0 + 7000]


def test_the_grace_alone_ends_the_previous_credentials_early() -> None:
    credentials = Credentials(current=key(0)).rotated(key(1), T0, 3600, keep=3)
    assert credentials.graced(T0 + 1000, 2).previous_expire_at(T0 + 1000) == T0 + 3000
    assert credentials.graced(T0 + 1000, 0).previous == ()
    assert credentials.graced(T0 + 1000, 7200) == credentials


@pytest.mark.parametrize("keep", [MAX_PREVIOUS_ON_INTEGRATION, MAX_PREVIOUS_ON_SUBSCRIBER])
def test_sixty_rotations_keep_the_newest_previous_credentials_up_to_the_cap(keep: int) -> None:
    credentials = Credentials(current=key(0))
    for n in range(1, 61):
        credentials = credentials.rotated(key(n), T0 + n, 86400, keep=keep)
    assert secrets_at(credentials, T0 + 61) == [f"s{n}" for n in range(60, 59 - keep, -1)]
    assert len(credentials.previous) == keep


def test_the_caps_are_three_on_an_integration_and_one_on_a_subscriber() -> None:
    assert (MAX_PREVIOUS_ON_INTEGRATION, MAX_PREVIOUS_ON_SUBSCRIBER) == (3, 1)


def test_a_credential_current_again_is_not_also_previous() -> None:
    credentials = Credentials(current=key(0)).rotated(key(1), T0, 60, keep=3)
    back = credentials.rotated(key(0), T0 + 1, 60, keep=3)
    assert back.current == key(0)
    assert [p.credential for p in back.previous] == [key(1)]


def test_values_are_distinct_non_empty_and_current_first() -> None:
    pairs = [{"privateSigningKey": "B", "publicSigningKey": "P2"}, {"privateSigningKey": "A"}]
    assert field_values([*pairs, {"privateSigningKey": "B"}], "privateSigningKey") == ["B", "A"]
    assert field_values([{"secret": ""}, {"other": "x"}], "secret") == []


def test_the_record_is_json_with_absolute_expiries_in_milliseconds() -> None:
    credentials = Credentials(current=key(0)).rotated(key(1), T0, 1.5, keep=3)
    record = orjson.loads(orjson.dumps(credentials.record()))
    assert record == {
        "current": {"secret": "s1"},
        "previous": [{"credential": {"secret": "s0"}, "expiresAtMs": T0 + 1500}],
    }
    assert Credentials.model_validate(record) == credentials


class _Grace(BaseModel):
    graceSeconds: GraceSeconds


@pytest.mark.parametrize("grace", [0, 0.5, 86400, 10 * 365 * 86400])
def test_grace_seconds_takes_zero_to_ten_years(grace: float) -> None:
    assert _Grace.model_validate_json(orjson.dumps({"graceSeconds": grace})).graceSeconds == grace


@pytest.mark.parametrize("grace", [-1, 10 * 365 * 86400 + 1, "60", True, None, 1e400])
def test_grace_seconds_refuses_anything_else(grace: object) -> None:
    with pytest.raises(ValidationError):
        _Grace.model_validate({"graceSeconds": grace})
