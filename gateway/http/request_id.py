"""Request ids: taken from the caller's `X-Request-Id` when sane, else made here."""

from __future__ import annotations

import itertools
import re
import secrets

from aiohttp import web
from aiohttp.web_request import BaseRequest

HEADER = "X-Request-Id"
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_KEY = web.RequestKey("request_id", str)
# A random per-process prefix and a counter: unique across instances like a uuid4, without
# paying for 16 random bytes on every request.
_PREFIX = secrets.token_hex(10)
_COUNTER = itertools.count()


def new_request_id() -> str:
    """A fresh id, for an answer given before any request was read."""
    return f"{_PREFIX}{next(_COUNTER):012x}"


def request_id(request: BaseRequest) -> str:
    """The request's id, chosen on first use and stable for the rest of the request."""
    if _KEY in request:
        return request[_KEY]
    given = request.headers.get(HEADER, "")
    chosen = given if given and _ACCEPTABLE.fullmatch(given) else new_request_id()
    request[_KEY] = chosen
    return chosen
