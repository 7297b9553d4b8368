"""Errors as HTTP answers: `{"error": {"code", "message"}}` with the same message in the
`UC-REST-ERROR` header, for a `GatewayError`, for aiohttp's own HTTP exceptions (no route,
wrong method) and for anything unexpected (a 500 whose message names the request id).

Nothing else in the gateway writes an error body: the request middleware answers whatever a
handler raises with one of the `*_response` functions below, and the protocol handler
(requests refused before routing) and `/readyz` build theirs with `error_response`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict

from gateway.errors import GatewayError

ERROR_HEADER = "UC-REST-ERROR"


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    message: str


class ErrorBody(BaseModel):
    """The error format: a snake_case code and a human-readable message (the same message
    is in the `UC-REST-ERROR` header)."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


_HTTP_ERROR_CODES = {
    404: ("not_found", "No route matches this path."),
    405: ("method_not_allowed", "This route does not accept that method."),
    413: ("payload_too_large", "The request body is over the size limit."),
    415: ("unsupported_media_type", "This route does not accept that content type."),
}


_CONTROLS = dict.fromkeys([*range(0x20), *range(0x7F, 0xA0)], " ")


def _header_safe(message: str) -> str:
    """Header values must be single-line latin-1 without control characters (aiohttp drops
    the connection rather than send one, and a message may echo a sender's text); the body
    keeps the full text."""
    text = " ".join(message.translate(_CONTROLS).split())
    return text.encode("latin-1", "replace").decode("latin-1")


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """The error answer; `extra` members go beside `error` in the body (`/readyz` lists
    its problems there)."""
    body = {"error": {"code": code, "message": message}, **extra}
    response = web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers=headers,
    )
    response.headers[ERROR_HEADER] = _header_safe(message)
    return response


def gateway_error_response(error: GatewayError) -> web.Response:
    return error_response(error.status, error.code, error.message, error.headers)


def _snake(reason: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", reason.lower()).strip("_") or "error"


def http_exception_response(exc: web.HTTPException) -> web.StreamResponse:
    """aiohttp's answer for no route (404), a wrong method (405, with `Allow`) and the like,
    in the error format; a non-error (a redirect) is left as it is."""
    if exc.status < 400:
        return exc
    code, message = _HTTP_ERROR_CODES.get(exc.status, (_snake(exc.reason), exc.reason))
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return error_response(exc.status, code, message, headers)


def internal_error_response(request_id: str) -> web.Response:
    """A failure of ours: the message names the request id so the log line can be found."""
    message = f"Internal server error (request id {request_id})."
    return error_response(500, "internal_server_error", message)
