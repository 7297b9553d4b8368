"""HTTP Basic and Bearer credentials, for senders that authenticate instead of signing.

Syniverse SCG's Event Subscription Service, for one, sends Basic or OAuth2 Bearer
credentials. Each check accepts several credentials so they can be rotated without downtime.
Reasons: no header ``missing_header``; wrong scheme, bad Base64 or UTF-8, or no ``:`` in a
Basic credential ``malformed_header``; anything else not accepted ``credential_invalid``.
"""

from collections.abc import Sequence

from signing._compare import matches_any, require_some
from signing._encoding import b64decode_canonical, utf8
from signing._headers import required
from signing.errors import VerificationError


def check_basic(authorization: str | None, username: str, password: str) -> None:
    """Accept ``Authorization: Basic`` with exactly this username and password."""
    check_basic_any(authorization, [(username, password)])


def check_basic_any(authorization: str | None, credentials: Sequence[tuple[str, str]]) -> None:
    """Accept any of several ``(username, password)`` pairs.

    ``ValueError`` if none are given or a username contains ``:`` (RFC 7617 forbids it,
    and it would make ``user:password`` ambiguous).
    """
    accepted = [
        _basic_credential(user, password)
        for user, password in require_some(credentials, "credential")
    ]
    decoded = b64decode_canonical(_parameter(authorization, "basic"))
    if decoded is None:
        raise VerificationError("malformed_header")
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationError("malformed_header") from None
    if ":" not in text:
        raise VerificationError("malformed_header")
    if not matches_any(decoded, accepted):
        raise VerificationError("credential_invalid")


def check_bearer(authorization: str | None, tokens: Sequence[str]) -> None:
    """Accept ``Authorization: Bearer <token>`` for any of ``tokens``."""
    accepted = [utf8(token) for token in require_some(tokens, "bearer token")]
    if not matches_any(utf8(_parameter(authorization, "bearer")), accepted):
        raise VerificationError("credential_invalid")


def _basic_credential(username: str, password: str) -> bytes:
    if ":" in username:
        raise ValueError("a Basic username cannot contain ':'")
    return utf8(f"{username}:{password}")


def _parameter(authorization: str | None, scheme: str) -> str:
    """The credential after the (case-insensitive) scheme name."""
    name, _, parameter = required(authorization).strip(" ").partition(" ")
    parameter = parameter.lstrip(" ")
    if name.lower() != scheme or not parameter:
        raise VerificationError("malformed_header")
    return parameter
