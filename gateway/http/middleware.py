"""The request middleware: the admin key where the route table asks for it, errors in the
contract's shape, the headers every answer carries, and a log line and metrics per request.

One middleware, not one per concern, and no `on_response_prepare` hooks: each layer and each
signal handler costs every request a few microseconds (measured in docs/benchmarks.md), and
an ingest request is only some 50 of them."""

from __future__ import annotations

import logging
import time

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from multidict import istr

from gateway.engine.base import EngineUnavailable
from gateway.errors import ClientGone, GatewayError
from gateway.http.appkeys import ACCESS_LOG, INFLIGHT, METRICS, TRUSTED_PROXIES
from gateway.http.connections import SERVER_NAME
from gateway.http.errors import (
    gateway_error_response,
    http_exception_response,
    internal_error_response,
)
from gateway.http.request_id import HEADER, request_id
from gateway.http.routes import admin_key_refusal, admitted

error_log = logging.getLogger("gateway.errors")


_REQUEST_ID = istr(HEADER)


def stamp(response: web.StreamResponse, rid: str) -> None:
    """The headers every answer carries: its request id (`request_id(request)`) and the
    server's name. Set here on what handlers return; a handler that prepares its own
    response (the websocket upgrade) stamps it before preparing it."""
    headers = response.headers
    headers[_REQUEST_ID] = rid
    headers[hdrs.SERVER] = SERVER_NAME


def _error_response(request: web.Request, error: Exception) -> web.StreamResponse:
    """The one place handlers' errors become responses: nothing else renders an error."""
    if isinstance(error, GatewayError):
        if error.status >= 500:
            # An engine outage is logged by the engine when it goes and when it is back;
            # a line per request answered 503 meanwhile would drown them.
            level = logging.DEBUG if isinstance(error, EngineUnavailable) else logging.WARNING
            extra = {"requestId": request_id(request)}
            error_log.log(level, "answered %d %s", error.status, error.code, extra=extra)
        elif isinstance(error, ClientGone):
            extra = {"requestId": request_id(request)}
            error_log.debug("the client closed the connection mid-request", extra=extra)
        return gateway_error_response(error)
    if isinstance(error, web.HTTPException):
        return http_exception_response(error)
    rid = request_id(request)
    error_log.error("unhandled error", exc_info=error, extra={"requestId": rid})
    return internal_error_response(rid)


def route_label(request: web.Request) -> str:
    """The matched route's template, so metrics and logs never carry ids or secrets."""
    route = request.match_info.route
    resource = route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request: counted in flight (websockets excepted: they are closed on shutdown),
    admitted or refused, errors rendered, stamped, then its metrics and one access-log
    line. Written out in one function: it is every request's overhead."""
    started = time.perf_counter()
    app = request.app
    inflight = app[INFLIGHT]
    counted = request.headers.get(hdrs.UPGRADE, "").lower() != "websocket"
    if counted:
        inflight.enter()
    try:
        if not admitted(request):
            raise await admin_key_refusal(request)
        response = await handler(request)
    except Exception as error:
        response = _error_response(request, error)
    finally:
        if counted:
            inflight.leave()
    rid = request_id(request)
    if not response.prepared:
        stamp(response, rid)
    if inflight.draining:
        response.force_close()
    elapsed = time.perf_counter() - started
    route = route_label(request)
    method, status = request.method, response.status
    app[METRICS].observe_request(method, route, status, elapsed)
    remote = app[TRUSTED_PROXIES].address(request)
    app[ACCESS_LOG].request(method, route, request.path, status, elapsed, rid, remote)
    return response
