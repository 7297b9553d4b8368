"""Raw 32-byte Ed25519 keys, shared by Standard Webhooks v1a and Telnyx."""

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)


def new_key_pair() -> tuple[bytes, bytes]:
    """Return ``(private seed, public key)``, both raw 32 bytes."""
    private = Ed25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


def private_key(seed: bytes) -> Ed25519PrivateKey:
    """``ValueError`` unless ``seed`` is exactly 32 bytes."""
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key(raw: bytes) -> Ed25519PublicKey:
    """``ValueError`` unless ``raw`` is exactly 32 bytes."""
    return Ed25519PublicKey.from_public_bytes(raw)


def is_valid(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
