"""Telnyx webhooks: Ed25519 over ``{telnyx-timestamp}|{raw body}``.

``telnyx-signature-ed25519`` carries the Base64 signature, ``telnyx-timestamp`` unix seconds.
The account public key (from the Telnyx portal) is the Base64 of the raw 32-byte key; a
malformed key raises ``ValueError``, never ``VerificationError``.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from signing import _ed25519
from signing._encoding import b64decode_key, b64encode, utf8
from signing._headers import (
    check_tolerance,
    decode_signature,
    first_present,
    parse_timestamp,
    required,
)
from signing.errors import VerificationError

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
DEFAULT_TOLERANCE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class TelnyxKeyPair:
    """Base64 of the raw 32-byte private seed and public key; repr hides the private one."""

    private_key: str = field(repr=False)
    public_key: str


def generate_key_pair() -> TelnyxKeyPair:
    seed, public = _ed25519.new_key_pair()
    return TelnyxKeyPair(b64encode(seed), b64encode(public))


def load_public_key(public_key: str) -> Ed25519PublicKey:
    """The account public key from its Base64 (padding optional); ``ValueError`` unless it
    decodes to exactly 32 bytes. Call it to validate configuration before any request."""
    return _ed25519.public_key(b64decode_key(public_key, "Telnyx public key"))


def _signed_content(timestamp: int, body: bytes) -> bytes:
    return utf8(f"{timestamp}|") + body


def sign(timestamp: int, body: bytes, private_key: bytes | str) -> str:
    """Return the ``telnyx-signature-ed25519`` value; the key is the raw seed or its Base64."""
    seed = (
        b64decode_key(private_key, "Telnyx private key")
        if isinstance(private_key, str)
        else private_key
    )
    return b64encode(_ed25519.private_key(seed).sign(_signed_content(timestamp, body)))


def verify(
    headers: Mapping[str, str],
    body: bytes,
    public_key: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: Callable[[], float] = time.time,
) -> None:
    """Verify a Telnyx request given its headers (any case).

    Order: missing header, then malformed timestamp or signature, then tolerance, then
    the signature itself, the same as ``signing.standard.verify_parts``.
    """
    key = load_public_key(public_key)
    signature_text = required(first_present(headers, SIGNATURE_HEADER))
    timestamp = parse_timestamp(required(first_present(headers, TIMESTAMP_HEADER)))
    signature = decode_signature(signature_text)
    check_tolerance(timestamp, tolerance_seconds, now)
    if not _ed25519.is_valid(key, signature, _signed_content(timestamp, body)):
        raise VerificationError("signature_invalid")
