"""Header lookup and the checks every scheme applies to headers, in the documented order."""

import re
from collections.abc import Callable, Mapping

from signing._encoding import b64decode_canonical
from signing.errors import VerificationError

# Canonical unix seconds only: no sign, no leading zeros, no fraction, at most 19 digits, so
# the signed text equals the header text and int() is cheap and can never overflow.
_TIMESTAMP = re.compile(r"0|[1-9][0-9]{0,18}")


def lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    """HTTP header names are case-insensitive; callers may pass any casing."""
    return {name.lower(): value for name, value in headers.items()}


def required(value: str | None) -> str:
    """An absent or empty header is missing."""
    if not value:
        raise VerificationError("missing_header")
    return value


def decode_signature(value: str) -> bytes:
    raw = b64decode_canonical(value)
    if raw is None:
        raise VerificationError("malformed_header")
    return raw


def parse_timestamp(value: str) -> int:
    if not _TIMESTAMP.fullmatch(value):
        raise VerificationError("malformed_header")
    return int(value)


def check_tolerance(timestamp: int, tolerance_seconds: int, now: Callable[[], float]) -> None:
    """Accept ``now - tolerance <= timestamp <= now + tolerance``; a NaN clock accepts nothing."""
    current = now()
    if not current - tolerance_seconds <= timestamp <= current + tolerance_seconds:
        raise VerificationError("timestamp_out_of_tolerance")
