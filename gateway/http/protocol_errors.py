"""Requests aiohttp refuses before any handler runs (malformed HTTP, oversized lines, an
unknown `Expect`, an encoding it cannot undo) get the contract's error shape too.

aiohttp answers those from `RequestHandler.handle_error` with a text/plain body and logs a
traceback that quotes the offending bytes, which may be a credential. The server here uses
a handler that renders `error_response` instead and logs one line without the bytes.

aiohttp has no public hook for this, so it is done with names aiohttp keeps private, on
purpose and fenced: `BaseRunner._make_server` (overridden), the `Server`'s `_loop` and
`_kwargs` and its constructor's parameters (the server is rebuilt from them), `Server.__call__`
(the per-connection protocol factory), `RequestHandler(manager, loop=..., **kwargs)` and
`RequestHandler.handle_error(request, status, exc, message)`. aiohttp is pinned below its
next major, and `tests/http/test_aiohttp_canaries.py` fails, naming what changed, as soon as
an aiohttp release moves any of them.
"""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.http.errors import error_response
from gateway.http.request_id import HEADER, request_id

log = logging.getLogger("gateway.protocol")

_MESSAGES = {
    400: ("bad_request", "The request is not valid HTTP."),
    413: ("payload_too_large", "The request is over a size limit."),
    417: ("expectation_failed", "This server does not meet that Expect header."),
    431: ("request_header_fields_too_large", "The request's headers are too large."),
    501: ("not_implemented", "This server does not implement that."),
}


class _ContractRequestHandler(web.RequestHandler):
    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
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


class _ContractServer(web.Server):
    def __call__(self) -> web.RequestHandler:
        return _ContractRequestHandler(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """An `AppRunner` whose connections answer protocol errors in the contract's shape."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        return _ContractServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=made._loop,
            **made._kwargs,
        )
