"""Request ids: taken from the caller's `X-Request-Id` when sane, else made here."""

from __future__ import annotations

import re
import uuid

from aiohttp import web

HEADER = "X-Request-Id"
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_KEY = web.RequestKey("request_id", str)


def request_id(request: web.Request) -> str:
    """The request's id, chosen on first use and stable for the rest of the request."""
    if _KEY in request:
        return request[_KEY]
    given = request.headers.get(HEADER, "")
    chosen = given if _ACCEPTABLE.fullmatch(given) else uuid.uuid4().hex
    request[_KEY] = chosen
    return chosen


async def add_request_id_header(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare` hook: every response, websocket upgrades included, carries it."""
    response.headers[HEADER] = request_id(request)
