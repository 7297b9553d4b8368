"""Telnyx: Ed25519 over ``timestamp|body``, made with ``cryptography`` directly."""

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing import VerificationError, telnyx

BODY = b'{"data":{"event_type":"message.received"}}'


def _headers(signature: str, timestamp: int | str) -> dict[str, str]:
    return {"Telnyx-Signature-Ed25519": signature, "Telnyx-Timestamp": str(timestamp)}


def _reason(headers: dict[str, str], public_key: str, now: int) -> str:
    with pytest.raises(VerificationError) as caught:
        telnyx.verify(headers, BODY, public_key, now=lambda: now)
    return caught.value.reason


def test_signature_from_cryptography_verifies(now: int) -> None:
    private = Ed25519PrivateKey.generate()
    public = base64.b64encode(private.public_key().public_bytes_raw()).decode()
    signature = base64.b64encode(private.sign(f"{now}|".encode() + BODY)).decode()
    telnyx.verify(_headers(signature, now), BODY, public, now=lambda: now)
    assert _reason(_headers(signature, now + 1), public, now) == "signature_invalid"


def test_sign_accepts_raw_or_base64_seed(now: int) -> None:
    pair = telnyx.generate_key_pair()
    seed = base64.b64decode(pair.private_key)
    assert telnyx.sign(now, BODY, seed) == telnyx.sign(now, BODY, pair.private_key)
    headers = _headers(telnyx.sign(now, BODY, seed), now)
    telnyx.verify(headers, BODY, pair.public_key, now=lambda: now)


@pytest.mark.parametrize(
    ("offset", "accepted"), [(300, True), (-300, True), (301, False), (-301, False)]
)
def test_tolerance_edges(offset: int, accepted: bool, now: int) -> None:
    pair = telnyx.generate_key_pair()
    headers = _headers(telnyx.sign(now + offset, BODY, pair.private_key), now + offset)
    if accepted:
        telnyx.verify(headers, BODY, pair.public_key, now=lambda: now)
    else:
        assert _reason(headers, pair.public_key, now) == "timestamp_out_of_tolerance"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_header"),
        ({"telnyx-timestamp": "1700000000"}, "missing_header"),
        ({"telnyx-signature-ed25519": "AAAA"}, "missing_header"),
        ({"telnyx-signature-ed25519": "AAAA", "telnyx-timestamp": "1.5"}, "malformed_header"),
        ({"telnyx-signature-ed25519": "A", "telnyx-timestamp": "1700000000"}, "malformed_header"),
        ({"telnyx-signature-ed25519": "AAAA", "telnyx-timestamp": "9" * 400}, "malformed_header"),
        (
            {"telnyx-signature-ed25519": "AAAA", "telnyx-timestamp": "1"},
            "timestamp_out_of_tolerance",
        ),
        (
            {"telnyx-signature-ed25519": "AAAA", "telnyx-timestamp": "1700000000"},
            "signature_invalid",
        ),
    ],
)
def test_bad_headers(headers: dict[str, str], reason: str, now: int) -> None:
    assert _reason(headers, telnyx.generate_key_pair().public_key, now) == reason


@pytest.mark.parametrize("key", ["", "AAAA", "not base64", "A" * 44])
def test_malformed_public_key_raises_value_error(key: str, now: int) -> None:
    with pytest.raises(ValueError) as caught:
        telnyx.verify(_headers("AAAA", now), BODY, key, now=lambda: now)
    assert not isinstance(caught.value, VerificationError)


@pytest.mark.parametrize("key", ["", "AAAA", "not base64", "A" * 44, "A" * 40])
def test_load_public_key_refuses_anything_but_32_bytes(key: str) -> None:
    with pytest.raises(ValueError):
        telnyx.load_public_key(key)


def test_load_public_key_takes_the_portals_base64_padded_or_not() -> None:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    text = base64.b64encode(raw).decode()
    assert telnyx.load_public_key(text).public_bytes_raw() == raw
    assert telnyx.load_public_key(text.rstrip("=")).public_bytes_raw() == raw
