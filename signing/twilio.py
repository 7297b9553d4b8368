"""Twilio's ``X-Twilio-Signature``: Base64 HMAC-SHA1 keyed with the account auth token.

The signed text is the full URL (with query) followed by every POST form parameter as
``name + value``, names sorted, and each name's distinct values sorted, exactly as
``twilio.request_validator.RequestValidator.compute_signature`` builds it. JSON requests
carry the body's SHA-256 in a ``bodySHA256`` query parameter instead, and the signature
covers the URL alone.

Twilio's own signing is inconsistent about ports, so ``verify`` accepts the URL both without
its port and with one (the default port for the scheme when the URL has none), like the
``twilio`` package. Unlike that package, it also tries the URL exactly as given (the package
only tries ``urlparse``-normalised forms, which drop a trailing ``?`` and lower-case the
scheme), and strips the port correctly from URLs carrying userinfo or an IPv6 host.
"""

import hashlib
import hmac
from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import ParseResult, parse_qs, urlparse

from signing._compare import matches_any, require_some
from signing._encoding import b64encode, utf8
from signing._headers import decode_signature, required
from signing._hmac import prepared
from signing.errors import VerificationError

SIGNATURE_HEADER = "X-Twilio-Signature"
BODY_HASH_PARAMETER = "bodySHA256"

Params = Mapping[str, str | Sequence[str]]
"""Form parameters. Pass a repeated name as one sequence value (from a multidict:
``{name: form.getall(name) for name in form}``); a multidict itself would yield only the
first value per name."""


def _params_text(params: Params | None) -> bytes:
    """``name + value`` for every parameter, names sorted, each name's distinct values sorted."""
    parts: list[str] = []
    if params:
        for name in sorted(set(params)):
            value = params[name]
            values = [value] if isinstance(value, str) else value
            parts.extend(name + item for item in sorted(set(values)))
    return utf8("".join(parts))


def _digest(auth_token: str, url: str, params_text: bytes) -> bytes:
    return prepared(utf8(auth_token), "sha1").digest(utf8(url), params_text)


def sign(url: str, params: Params | None, auth_token: str) -> str:
    """Return the ``X-Twilio-Signature`` value for a request to ``url`` with ``params``."""
    return b64encode(_digest(auth_token, url, _params_text(params)))


def body_sha256(body: bytes) -> str:
    """The lower-case hex SHA-256 Twilio puts in ``bodySHA256`` for a JSON body."""
    return hashlib.sha256(body).hexdigest()


def verify(
    url: str,
    params: Params | None,
    signature: str | None,
    auth_tokens: Sequence[str],
) -> None:
    """Accept a form-encoded request signed with any of ``auth_tokens`` (rotation)."""
    tokens = require_some(auth_tokens, "auth token")
    presented = decode_signature(required(signature))
    _check(presented, _candidate_urls(url, _parse(url)), _params_text(params), tokens)


def verify_json(url: str, body: bytes, signature: str | None, auth_tokens: Sequence[str]) -> None:
    """Accept a JSON request: signature over the URL, and ``bodySHA256`` equal to the body's.

    A URL without ``bodySHA256`` is refused (``signature_invalid``): nothing would then
    authenticate the body.
    """
    tokens = require_some(auth_tokens, "auth token")
    presented = decode_signature(required(signature))
    parsed = _parse(url)
    _check(presented, _candidate_urls(url, parsed), b"", tokens)
    claimed = parse_qs(parsed.query).get(BODY_HASH_PARAMETER)
    if not claimed or not hmac.compare_digest(utf8(claimed[0]), utf8(body_sha256(body))):
        raise VerificationError("signature_invalid")


def _check(
    presented: bytes, urls: Iterator[str], params_text: bytes, tokens: Sequence[str]
) -> None:
    expected = (_digest(token, url, params_text) for url in urls for token in tokens)
    if not matches_any(presented, expected):
        raise VerificationError("signature_invalid")


def _parse(url: str) -> ParseResult:
    """Parse the request URL, which derives from the (untrusted) Host header."""
    try:
        parsed = urlparse(url)
        parsed.port  # noqa: B018 - raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        raise VerificationError("malformed_header") from None
    return parsed


def _candidate_urls(url: str, parsed: ParseResult) -> Iterator[str]:
    """The URL as given (the usual match, so tried first), then, lazily, the forms the
    ``twilio`` package tries: normalised by ``urlparse``, and with the port toggled."""
    yield url
    if parsed.port is None:
        port = 443 if parsed.scheme == "https" else 80
        other_netloc = f"{parsed.netloc}:{port}"
    else:
        userinfo, at, host_port = parsed.netloc.rpartition("@")
        other_netloc = userinfo + at + host_port[: host_port.rindex(":")]
    normalised = parsed.geturl()
    if normalised != url:
        yield normalised
    yield parsed._replace(netloc=other_netloc).geturl()
