"""Credentials sealed at rest (`gateway/credentials/sealing.py`): master keys as operators
make them, AES-GCM bound to the record, rotation, and the registry wrapper on every engine."""

from __future__ import annotations

import logging
import secrets

import pytest
from cryptography.fernet import Fernet

from gateway.config import ConfigError
from gateway.credentials.rotation import RECORD_MEMBER
from gateway.credentials.sealing import (
    MasterKeys,
    SealedRegistry,
    SealError,
    key_id,
    parse_master_keys,
)
from tests.conftest import NewEngine

CREDENTIALS = {"current": {"secret": "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}, "previous": []}


def _keys(*texts: str) -> MasterKeys:
    return MasterKeys(parse_master_keys(texts))


def _record(record_id: str) -> dict[str, object]:
    return {"subscriberId": record_id, "url": "https://a.example/", RECORD_MEMBER: CREDENTIALS}


def test_master_keys_are_taken_as_secrets_and_fernet_make_them() -> None:
    made = [secrets.token_urlsafe(32), Fernet.generate_key().decode()]
    assert made[1].endswith("=")
    assert [len(key) for key in parse_master_keys(made)] == [32, 32]


@pytest.mark.parametrize(
    "bad",
    [
        secrets.token_urlsafe(16),  # too short
        secrets.token_urlsafe(33),  # too long
        "+" * 43,  # standard base64, not URL-safe
        secrets.token_hex(32),  # hex is 64 characters
    ],
)
def test_a_malformed_master_key_is_refused_by_position_without_showing_it(bad: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_master_keys([secrets.token_urlsafe(32), bad])
    assert "key 2 is not 32 bytes in URL-safe base64" in str(refused.value)
    assert bad not in str(refused.value)


def test_a_key_listed_twice_is_refused() -> None:
    key = secrets.token_urlsafe(32)
    with pytest.raises(ConfigError, match="listed twice"):
        parse_master_keys([key, key + "="])


def test_a_sealed_value_opens_only_for_its_record_and_under_a_listed_key() -> None:
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    keys = _keys(old)
    sealed = keys.seal(CREDENTIALS, "subscriber", "s-1")
    assert sealed != keys.seal(CREDENTIALS, "subscriber", "s-1")  # a fresh nonce each time
    assert "secret" not in sealed
    assert keys.open(sealed, "subscriber", "s-1") == CREDENTIALS
    assert _keys(new, old).open(sealed, "subscriber", "s-1") == CREDENTIALS
    for kind, record_id in (("subscriber", "s-2"), ("integration", "s-1")):
        with pytest.raises(SealError, match="moved from another record"):
            keys.open(sealed, kind, record_id)
    altered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(SealError, match="altered"):
        keys.open(altered, "subscriber", "s-1")
    with pytest.raises(SealError) as unknown:
        _keys(new).open(sealed, "subscriber", "s-1")
    old_id = key_id(parse_master_keys([old])[0])
    assert unknown.value.detail == (
        f"subscriber s-1: credentials sealed under master key id {old_id}, which is not in "
        "GATEWAY_MASTER_KEYS"
    )


async def test_the_registry_wrapper_seals_the_member_on_every_engine(
    new_engine: NewEngine,
) -> None:
    engine = await new_engine()
    keys = _keys(secrets.token_urlsafe(32))
    registry = SealedRegistry(engine.registry, keys)

    created, mine = await registry.create("subscriber", "s-1", _record("s-1"))
    assert mine and created.record == _record("s-1")
    raw = await engine.registry.get("subscriber", "s-1")
    assert raw is not None and isinstance(raw.record[RECORD_MEMBER], str)
    assert raw.record["url"] == "https://a.example/"  # only the member is sealed
    assert (await registry.get("subscriber", "s-1")).record == _record("s-1")  # type: ignore[union-attr]
    replaced = await registry.replace("subscriber", "s-1", _record("s-1"), 1)
    assert (replaced.version, replaced.record) == (2, _record("s-1"))
    assert [item.record for item in await registry.list("subscriber")] == [_record("s-1")]
    again, mine = await registry.create("subscriber", "s-1", _record("s-1"))
    assert not mine and again.record == _record("s-1")
    # Kinds without credentials pass through untouched.
    await registry.create("other", "o-1", {RECORD_MEMBER: "plain"})
    assert (await engine.registry.get("other", "o-1")).record == {RECORD_MEMBER: "plain"}  # type: ignore[union-attr]


async def test_reencrypt_seals_old_and_plain_records_under_the_first_key(
    new_engine: NewEngine,
) -> None:
    engine = await new_engine()
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await SealedRegistry(engine.registry, _keys(old)).create("subscriber", "s-1", _record("s-1"))
    await engine.registry.create("subscriber", "s-2", _record("s-2"))  # stored before keys
    rotated = SealedRegistry(engine.registry, _keys(new, old))
    await rotated.create("subscriber", "s-3", _record("s-3"))

    assert await rotated.reencrypt() == {"integration": 0, "subscriber": 2}
    assert await rotated.reencrypt() == {"integration": 0, "subscriber": 0}
    only_new = SealedRegistry(engine.registry, _keys(new))
    await only_new.check()
    records = [item.record for item in await only_new.list("subscriber")]
    assert records == [_record("s-1"), _record("s-2"), _record("s-3")]


async def test_wrong_keys_are_refused_at_start_and_reported_once_later(
    new_engine: NewEngine, caplog: pytest.LogCaptureFixture
) -> None:
    engine = await new_engine()
    right, wrong = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await SealedRegistry(engine.registry, _keys(right)).create("subscriber", "s-1", _record("s-1"))
    mistaken = SealedRegistry(engine.registry, _keys(wrong))
    with pytest.raises(ConfigError, match=r"^cannot use the stored credentials: subscriber s-1"):
        await mistaken.check()

    with caplog.at_level(logging.ERROR, logger="gateway.credentials"):
        for _ in range(3):
            with pytest.raises(SealError):
                await mistaken.get("subscriber", "s-1")
    assert len(caplog.records) == 1
    assert right not in caplog.text and wrong not in caplog.text
