"""Hubster: HMAC-SHA256 keyed with the private key's text, key generation and rotation."""

import base64
import hashlib
import hmac
import re

import pytest

from signing import VerificationError, hubster

KEY = "0123456789ABCDEF0123456789ABCDEF"
BODY = b'{"hubId":"h","activities":[]}'


def test_sign_uses_key_text_not_hex_bytes() -> None:
    expected = hmac.new(KEY.encode(), BODY, hashlib.sha256).digest()
    assert hubster.sign(BODY, KEY) == base64.b64encode(expected).decode()
    hex_keyed = hmac.new(bytes.fromhex(KEY), BODY, hashlib.sha256).digest()
    with pytest.raises(VerificationError) as caught:
        hubster.verify(BODY, base64.b64encode(hex_keyed).decode(), [KEY])
    assert caught.value.reason == "signature_invalid"


def test_generated_keys_are_32_upper_hex_and_distinct() -> None:
    pairs = [hubster.generate_key_pair() for _ in range(20)]
    keys = [key for pair in pairs for key in (pair.public_signing_key, pair.private_signing_key)]
    assert all(re.fullmatch(r"[0-9A-F]{32}", key) for key in keys)
    assert len(set(keys)) == len(keys)


def test_rotation_accepts_any_key() -> None:
    old, new = hubster.generate_key_pair(), hubster.generate_key_pair()
    keys = [old.private_signing_key, new.private_signing_key]
    hubster.verify(BODY, hubster.sign(BODY, old.private_signing_key), keys)
    hubster.verify(BODY, hubster.sign(BODY, new.private_signing_key), keys)
    with pytest.raises(VerificationError):
        hubster.verify(BODY, hubster.sign(BODY, old.private_signing_key), keys[1:])


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (None, "missing_header"),
        ("", "missing_header"),
        ("not base64!", "malformed_header"),
        ("QQ", "malformed_header"),
        ("QR==", "malformed_header"),
        ("é", "malformed_header"),
        (base64.b64encode(b"x" * 32).decode(), "signature_invalid"),
    ],
)
def test_bad_signatures(signature: str | None, reason: str) -> None:
    with pytest.raises(VerificationError) as caught:
        hubster.verify(BODY, signature, [KEY])
    assert caught.value.reason == reason


@pytest.mark.parametrize("keys", [[], KEY])
def test_no_keys_is_a_caller_error(keys: list[str] | str) -> None:
    with pytest.raises(ValueError, match="at least one") as caught:
        hubster.verify(BODY, hubster.sign(BODY, KEY), keys)
    assert not isinstance(caught.value, VerificationError)
