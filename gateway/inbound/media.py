"""Which Content-Type an adapter takes: its own media types, `+json` suffixes for JSON, and
UTF-8 only (JSON is UTF-8 by RFC 8259; a form in another charset would not verify)."""

from __future__ import annotations

from gateway.errors import InboundError
from gateway.inbound.base import Adapter

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
_UTF8 = frozenset({"utf-8", "utf8"})


def is_compressed(content_encoding: str | None) -> bool:
    """Whether the Content-Encoding names any coding other than identity."""
    if not content_encoding:
        return False
    codings = (part.strip().lower() for part in (content_encoding or "").split(","))
    return any(coding not in ("", "identity") for coding in codings)


def _unsupported(adapter: Adapter) -> InboundError:
    takes = " or ".join(adapter.media_types)
    return InboundError("unsupported_media_type", f"This integration takes {takes}.", 415)


def accepted_media_type(adapter: Adapter, content_type: str | None) -> str:
    """The adapter's media type the request's Content-Type stands for, or 415. A missing
    Content-Type means the adapter's own (its first) media type."""
    if content_type in adapter.media_types:
        return content_type
    if content_type is None or not content_type.strip():
        return adapter.media_types[0]
    main, *params = (part.strip() for part in content_type.split(";"))
    main = main.lower()
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _UTF8:
            raise _unsupported(adapter)
    if main in adapter.media_types:
        return main
    if JSON in adapter.media_types and main.startswith("application/") and main.endswith("+json"):
        return JSON
    raise _unsupported(adapter)
