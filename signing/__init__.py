"""Verify (and produce) webhook signatures and credentials; pure functions, no I/O.

Every ``verify``/``check`` function returns ``None`` on success and raises
``VerificationError`` (with a ``reason``) for any bad request input. A mistake in the
caller's own configuration (no keys, a malformed key) raises ``ValueError`` instead.

Public API (the scheme modules are re-exported because their function names are shared):

``signing.VerificationError``, ``signing.Reason``

``signing.hubster``: ``generate_key_pair() -> HubsterKeyPair``,
``sign(body, private_signing_key) -> str``,
``verify(body, signature, private_signing_keys) -> None``,
``HubsterKeyPair``, ``SIGNATURE_HEADER``, ``PUBLIC_KEY_HEADER``

``signing.standard``: ``generate_secret() -> str``,
``generate_ed25519_key_pair() -> Ed25519KeyPair``, ``load_key(key) -> StandardKey``,
``sign(msg_id, timestamp, body, keys) -> str``,
``verify(headers, body, keys, *, tolerance_seconds=300, now=time.time) -> None``,
``verify_parts(msg_id, timestamp_header, signature_header, body, keys, *,
tolerance_seconds=300, now=time.time) -> None``, ``Ed25519KeyPair``, ``StandardKey``,
``DEFAULT_TOLERANCE_SECONDS``, ``MAX_SIGNATURE_ENTRIES``

``signing.twilio``: ``sign(url, params, auth_token) -> str``,
``verify(url, params, signature, auth_tokens) -> None``, ``body_sha256(body) -> str``,
``verify_json(url, body, signature, auth_tokens) -> None``, ``Params``,
``SIGNATURE_HEADER``, ``BODY_HASH_PARAMETER``

``signing.telnyx``: ``generate_key_pair() -> TelnyxKeyPair``,
``load_public_key(public_key) -> Ed25519PublicKey``,
``sign(timestamp, body, private_key) -> str``,
``verify(headers, body, public_key, *, tolerance_seconds=300, now=time.time) -> None``,
``TelnyxKeyPair``, ``SIGNATURE_HEADER``, ``TIMESTAMP_HEADER``, ``DEFAULT_TOLERANCE_SECONDS``

``signing.credentials`` (also re-exported at top level):
``check_basic(authorization, username, password) -> None``,
``check_basic_any(authorization, credentials) -> None``,
``check_bearer(authorization, tokens) -> None``

The key pair classes are also re-exported at top level.
"""

from signing import credentials, hubster, standard, telnyx, twilio
from signing.credentials import check_basic, check_basic_any, check_bearer
from signing.errors import Reason, VerificationError
from signing.hubster import HubsterKeyPair
from signing.standard import Ed25519KeyPair, StandardKey
from signing.telnyx import TelnyxKeyPair

__all__ = [
    "Ed25519KeyPair",
    "HubsterKeyPair",
    "Reason",
    "StandardKey",
    "TelnyxKeyPair",
    "VerificationError",
    "check_basic",
    "check_basic_any",
    "check_bearer",
    "credentials",
    "hubster",
    "standard",
    "telnyx",
    "twilio",
]
