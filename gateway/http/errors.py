"""Errors as HTTP answers: `{"error": {"code", "message"}}` with the same message in the
`UC-REST-ERROR` header, for a `GatewayError`, for aiohttp's own HTTP exceptions (no route,
wrong method) and for anything unexpected (a 500 whose message names the request id).

Nothing else in the gateway writes an error body: the request middleware answers whatever a
handler raises with one of the `*_response` functions below, the protocol handler
(requests refused before routing) and `/readyz` build theirs with `error_response`, and a
connection answered without aiohttp (past the connection cap) writes the bytes
`raw_error_answer` encoded once at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from http import HTTPStatus
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


def _error_body(code: str, message: str, **extra: Any) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}, **extra})


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """The error answer; `extra` members go beside `error` in the body (`/readyz` lists
    its problems there)."""
    response = web.Response(
        status=status,
        body=_error_body(code, message, **extra),
        content_type="application/json",
        headers=headers,
    )
    response.headers[ERROR_HEADER] = _header_safe(message)
    return response


def gateway_error_response(error: GatewayError) -> web.Response:
    return error_response(error.status, error.code, error.message, error.headers)


def raw_error_answer(error: GatewayError, headers: Mapping[str, str]) -> tuple[bytes, bytes]:
    """The error as a whole HTTP/1.1 answer in the error format, for a connection answered
    without aiohttp: the head (status line and header lines: the error's own, then
    `headers`, each line ending in CRLF) and the rest (the blank line and the body), so
    that the caller can put a line of its own (a request id) between them."""
    body = _error_body(error.code, error.message)
    lines = [
        f"HTTP/1.1 {error.status} {HTTPStatus(error.status).phrase}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"{ERROR_HEADER}: {_header_safe(error.message)}",
        *(f"{name}: {value}" for name, value in {**error.headers, **headers}.items()),
    ]
    head = "".join(f"{line}\r\n" for line in lines).encode("latin-1")
    return head, b"\r\n" + body


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
