"""Requests aiohttp refuses before any handler runs (malformed HTTP, oversized lines, an
unknown `Expect`, an encoding it cannot undo) get the contract's error shape too.

aiohttp answers those from `RequestHandler.handle_error` with a text/plain body and logs a
traceback that quotes the offending bytes, which may be a credential. The gateway's
connection (`gateway.http.connections.GatewayConnection`) overrides `handle_error` with
`refusal_response` below: the error format, and one log line without the bytes.

aiohttp reports every unparsable request as a 400. A request whose headers are too large is
answered 431 instead, the standard answer: a header field over `MAX_HEADER_FIELD_BYTES`
(aiohttp's `LineTooLong` carries the limit it broke, and the request line's limit,
`MAX_REQUEST_LINE_BYTES`, is a different number so the two can be told apart) or more than
`MAX_HEADERS` header fields. Anything else malformed, a request line too long included,
stays 400.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from gateway.http.errors import error_response
from gateway.http.request_id import HEADER, request_id

log = logging.getLogger("gateway.protocol")

MAX_REQUEST_LINE_BYTES = 8190
"""The longest request line (method, target, version) aiohttp reads; aiohttp's default."""
MAX_HEADER_FIELD_BYTES = 8192
"""The longest header field (name and value) aiohttp reads: 8 KiB, as most servers allow."""
MAX_HEADERS = 128
"""Header fields per request; aiohttp's default."""
TOO_MANY_HEADERS = "Too many headers received"
"""aiohttp's message for a request over `max_headers` (a plain `BadHttpMessage`)."""

_MESSAGES = {
    400: ("bad_request", "The request is not valid HTTP."),
    413: ("payload_too_large", "The request is over a size limit."),
    417: ("expectation_failed", "This server does not meet that Expect header."),
    431: (
        "request_header_fields_too_large",
        f"The request's headers are too large (at most {MAX_HEADERS} fields of "
        f"{MAX_HEADER_FIELD_BYTES} bytes).",
    ),
    501: ("not_implemented", "This server does not implement that."),
}


def _headers_too_large(exc: BaseException | None) -> bool:
    if isinstance(exc, LineTooLong):
        return len(exc.args) > 1 and exc.args[1] == MAX_HEADER_FIELD_BYTES
    return isinstance(exc, BadHttpMessage) and exc.message == TOO_MANY_HEADERS


def refusal_response(
    request: web.BaseRequest, status: int, exc: BaseException | None
) -> web.StreamResponse:
    """The answer to a request refused before routing: the error format, the connection
    closed after it. Raises `ConnectionError` when an answer had already started (there is
    nothing left to say on that connection), as aiohttp's own `handle_error` does."""
    if status == 400 and _headers_too_large(exc):
        status = 431
    rid = request_id(request)
    log.warning(
        "request refused before routing",
        extra={"status": status, "reason": type(exc).__name__, "requestId": rid},
    )
    if request.writer.output_size > 0:
        raise ConnectionError("an answer was already being sent")
    code, text = _MESSAGES.get(
        status, ("internal_server_error", f"Internal server error (request id {rid}).")
    )
    response = error_response(status, code, text)
    response.headers[HEADER] = rid
    response.force_close()
    return response
