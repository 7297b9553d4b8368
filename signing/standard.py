"""Standard Webhooks (https://www.standardwebhooks.com), as sent by Svix and many platforms.

Signed content is ``{webhook-id}.{webhook-timestamp}.{raw body}``; ``webhook-signature`` is
a space-separated list of ``v1,<base64 HMAC-SHA256>`` and ``v1a,<base64 Ed25519>`` entries,
and one match against any configured key is enough (that is how rotation works).

Keys are strings: ``whsec_<base64>`` HMAC secrets (the prefix may be omitted, as the
reference library allows), ``whsk_<base64 32-byte seed>`` Ed25519 signing keys and
``whpk_<base64 32-byte public key>`` Ed25519 verification keys. A malformed key is the
caller's mistake: ``load_key`` (called by ``sign`` and ``verify`` too) raises ``ValueError``
for it, never ``VerificationError``. Call ``load_key`` at start-up to validate configuration.
"""

import functools
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from signing import _ed25519
from signing._compare import matches_any, require_some
from signing._encoding import b64decode_key, b64encode, utf8
from signing._headers import (
    check_tolerance,
    decode_signature,
    first_present,
    parse_timestamp,
    required,
)
from signing._hmac import prepared
from signing.errors import VerificationError

StandardKey = bytes | Ed25519PrivateKey | Ed25519PublicKey
"""A decoded key: raw HMAC secret bytes, an Ed25519 signing key or an Ed25519 public key."""

DEFAULT_TOLERANCE_SECONDS = 300
# A signature header longer than this is refused before any work: each v1a entry costs an
# Ed25519 verification per public key, which would otherwise be a cheap way to burn CPU.
MAX_SIGNATURE_ENTRIES = 16
# Each distinct v1a entry costs an Ed25519 verification per public key, so an unauthenticated
# sender could make one request cost dozens of them; a rotation never needs more than a few.
MAX_ED25519_ENTRIES = 4
_ED25519_SIGNATURE_BYTES = 64
_SECRET_PREFIX, _SIGNING_PREFIX, _PUBLIC_PREFIX = "whsec_", "whsk_", "whpk_"


@dataclass(frozen=True, slots=True)
class Ed25519KeyPair:
    """``secret`` (``whsk_``) signs, ``public`` (``whpk_``) verifies; repr hides the secret."""

    secret: str = field(repr=False)
    public: str


def generate_secret() -> str:
    """A new ``whsec_`` HMAC secret of 32 random bytes."""
    return _SECRET_PREFIX + b64encode(secrets.token_bytes(32))


def generate_ed25519_key_pair() -> Ed25519KeyPair:
    seed, public = _ed25519.new_key_pair()
    return Ed25519KeyPair(_SIGNING_PREFIX + b64encode(seed), _PUBLIC_PREFIX + b64encode(public))


@functools.lru_cache(maxsize=64)
def load_key(key: str) -> StandardKey:
    """Decode a configured key; ``ValueError`` if it is not valid base64 of the right size.

    Memoised: a receiver verifies with the same few keys on every request, and decoding
    (or building an Ed25519 key object) would otherwise be a sizeable share of a ``v1`` check.
    """
    if key.startswith(_PUBLIC_PREFIX):
        return _ed25519.public_key(b64decode_key(key[len(_PUBLIC_PREFIX) :], "whpk_ key"))
    if key.startswith(_SIGNING_PREFIX):
        return _ed25519.private_key(b64decode_key(key[len(_SIGNING_PREFIX) :], "whsk_ key"))
    return b64decode_key(key.removeprefix(_SECRET_PREFIX), "webhook secret")


def _signed_prefix(msg_id: str, timestamp: int) -> bytes:
    """What precedes the body in the signed content; kept apart so HMAC never copies the body."""
    return utf8(f"{msg_id}.{timestamp}.")


def _hmac(secret: bytes, prefix: bytes, body: bytes) -> bytes:
    return prepared(secret, "sha256").digest(prefix, body)


def sign(msg_id: str, timestamp: int, body: bytes, keys: Sequence[str]) -> str:
    """Return the ``webhook-signature`` value: one entry per key, in the order given.

    ``ValueError`` for a public (``whpk_``) key, a malformed key, or a negative timestamp.
    """
    if timestamp < 0:
        raise ValueError("timestamp must be non-negative unix seconds")
    prefix = _signed_prefix(msg_id, timestamp)
    entries = []
    for key in require_some(keys, "signing key"):
        loaded = load_key(key)
        if isinstance(loaded, bytes):
            entries.append("v1," + b64encode(_hmac(loaded, prefix, body)))
        elif isinstance(loaded, Ed25519PrivateKey):
            entries.append("v1a," + b64encode(loaded.sign(prefix + body)))
        else:
            raise ValueError("a whpk_ public key cannot sign")
    return " ".join(entries)


def verify(
    headers: Mapping[str, str],
    body: bytes,
    keys: Sequence[str],
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: Callable[[], float] = time.time,
) -> None:
    """Verify a request given all its headers, names in any case.

    The ``svix-*`` names are accepted as aliases; when both forms are present the
    ``webhook-*`` ones win (the svix library prefers ``svix-*``; either way a signature
    must match, so the choice only matters to a sender that sends conflicting pairs).
    """
    verify_parts(
        first_present(headers, "webhook-id", "svix-id"),
        first_present(headers, "webhook-timestamp", "svix-timestamp"),
        first_present(headers, "webhook-signature", "svix-signature"),
        body,
        keys,
        tolerance_seconds=tolerance_seconds,
        now=now,
    )


def verify_parts(
    msg_id: str | None,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    keys: Sequence[str],
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: Callable[[], float] = time.time,
) -> None:
    """Verify from the three header values, already extracted.

    Checks, in order: any header missing or empty (``missing_header``); timestamp not a
    canonical unix-seconds integer, signature header unparsable, or more than
    ``MAX_ED25519_ENTRIES`` distinct ``v1a`` entries (``malformed_header``);
    timestamp further than ``tolerance_seconds`` from ``now()`` (``timestamp_out_of_tolerance``);
    no entry matching any key (``signature_invalid``). ``v1`` entries are checked against
    HMAC secrets, ``v1a`` entries against Ed25519 keys; other versions are ignored.
    Keys are loaded first, so a malformed or missing key raises ``ValueError``.
    """
    hmac_secrets, public_keys = _verification_keys(keys)
    msg_id = required(msg_id)
    timestamp = parse_timestamp(required(timestamp_header))
    entries = _parse_signature_header(required(signature_header))
    check_tolerance(timestamp, tolerance_seconds, now)
    prefix = _signed_prefix(msg_id, timestamp)
    v1 = [signature for version, signature in entries if version == "v1"]
    if v1:
        macs = [_hmac(secret, prefix, body) for secret in hmac_secrets]
        if any(matches_any(signature, macs) for signature in v1):
            return
    v1a = {sig for version, sig in entries if version == "v1a"}
    if len(v1a) > MAX_ED25519_ENTRIES:
        raise VerificationError("malformed_header")
    candidates = [sig for sig in v1a if len(sig) == _ED25519_SIGNATURE_BYTES]
    if candidates and public_keys:
        message = prefix + body
        for signature in candidates:
            if any(_ed25519.is_valid(key, signature, message) for key in public_keys):
                return
    raise VerificationError("signature_invalid")


def _verification_keys(keys: Sequence[str]) -> tuple[list[bytes], list[Ed25519PublicKey]]:
    hmac_secrets: list[bytes] = []
    public_keys: list[Ed25519PublicKey] = []
    for key in require_some(keys, "verification key"):
        loaded = load_key(key)
        if isinstance(loaded, bytes):
            hmac_secrets.append(loaded)
        elif isinstance(loaded, Ed25519PrivateKey):
            public_keys.append(loaded.public_key())
        else:
            public_keys.append(loaded)
    return hmac_secrets, public_keys


def _parse_signature_header(value: str) -> list[tuple[str, bytes]]:
    """Split on whitespace into ``(version, signature)`` for the versions we know.

    Entries of other versions are skipped undecoded, so a future scheme cannot break us.
    """
    parts = value.split()
    if not parts or len(parts) > MAX_SIGNATURE_ENTRIES:
        raise VerificationError("malformed_header")
    entries = []
    for part in parts:
        version, comma, payload = part.partition(",")
        if not version or not comma:
            raise VerificationError("malformed_header")
        if version == "v1" or version == "v1a":
            entries.append((version, decode_signature(payload)))
    return entries
