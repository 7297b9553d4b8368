"""Hubster's ``x-hubster-signature``: Base64 HMAC-SHA256 of the raw body.

The HMAC key is the private signing key's *text* (32 upper-case hex characters) encoded as
UTF-8, not the 16 bytes the hex spells. Hubster sends no timestamp, so replay protection is
the receiver's job (use each activity's ``eventId``).
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from signing._compare import matches_any, require_some
from signing._encoding import b64encode, utf8
from signing._headers import decode_signature, required
from signing._hmac import prepared
from signing.errors import VerificationError

SIGNATURE_HEADER = "x-hubster-signature"
PUBLIC_KEY_HEADER = "x-hubster-public-key"


@dataclass(frozen=True, slots=True)
class HubsterKeyPair:
    """An integration's key pair; the public key only identifies which private key signed."""

    public_signing_key: str
    private_signing_key: str = field(repr=False)


def generate_key_pair() -> HubsterKeyPair:
    return HubsterKeyPair(_new_key(), _new_key())


def _new_key() -> str:
    return secrets.token_hex(16).upper()


def _digest(body: bytes, private_signing_key: str) -> bytes:
    return prepared(utf8(private_signing_key), "sha256").digest(body)


def sign(body: bytes, private_signing_key: str) -> str:
    """Return the ``x-hubster-signature`` value for ``body``."""
    return b64encode(_digest(body, private_signing_key))


def verify(body: bytes, signature: str | None, private_signing_keys: Sequence[str]) -> None:
    """Accept if any of the keys (several during a rotation) signed ``body``.

    Raises ``VerificationError`` for a bad request, ``ValueError`` for an empty key list.
    """
    keys = require_some(private_signing_keys, "private signing key")
    presented = decode_signature(required(signature))
    if not matches_any(presented, (_digest(body, key) for key in keys)):
        raise VerificationError("signature_invalid")
