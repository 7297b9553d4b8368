"""Header lookup and the checks every scheme applies to headers, in the documented order."""

import re
from collections.abc import Callable, Mapping

from signing._encoding import b64decode_canonical
from signing.errors import VerificationError

# Canonical unix seconds only: no sign, no leading zeros, no fraction, at most 19 digits, so
# the signed text equals the header text and int() is cheap and can never overflow.
_TIMESTAMP = re.compile(r"0|[1-9][0-9]{0,18}")


def first_present(headers: Mapping[str, str], *names: str) -> str | None:
    """The value of the first of ``names`` (lower-case) present, ignoring the keys' case.

    An exact lower-case key for the first name (HTTP/2, aiohttp's case-insensitive
    multidict, most frameworks) is found without a case-folding pass over every header.
    """
    value = headers.get(names[0])
    if value is not None:
        return value
    lowered = {key.lower(): value for key, value in headers.items()}
    return next((lowered[name] for name in names if name in lowered), None)


def required(value: str | None) -> str:
    """An absent or empty header is missing."""
    if not value:
        raise VerificationError("missing_header")
    return value


def decode_signature(value: str) -> bytes:
    """A signature must be canonical Base64; anything else is a malformed header."""
    raw = b64decode_canonical(value)
    if raw is None:
        raise VerificationError("malformed_header")
    return raw


def parse_timestamp(value: str) -> int:
    """Unix seconds, in the canonical form ``_TIMESTAMP`` allows, else a malformed header."""
    if not _TIMESTAMP.fullmatch(value):
        raise VerificationError("malformed_header")
    return int(value)


def check_tolerance(timestamp: int, tolerance_seconds: int, now: Callable[[], float]) -> None:
    """Accept ``now - tolerance <= timestamp <= now + tolerance``; a NaN clock accepts nothing."""
    current = now()
    if not current - tolerance_seconds <= timestamp <= current + tolerance_seconds:
        raise VerificationError("timestamp_out_of_tolerance")
