"""Constant-time comparison against several accepted values (key rotation)."""

import hmac
from collections.abc import Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")


def matches_any(candidate: bytes, accepted: Iterable[bytes]) -> bool:
    """True if ``candidate`` equals one of ``accepted``; each comparison is constant time."""
    # A plain loop: any() over a generator costs several times the comparison itself.
    for value in accepted:  # noqa: SIM110
        if hmac.compare_digest(candidate, value):
            return True
    return False


def require_some(values: Sequence[T], what: str) -> Sequence[T]:
    """Reject an empty key list up front: it is a configuration error, not a bad request."""
    if isinstance(values, str) or not values:
        raise ValueError(f"at least one {what} is required, as a sequence")
    return values
