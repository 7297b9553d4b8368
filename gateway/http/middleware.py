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

from gateway.errors import ClientGone, GatewayError
from gateway.http.appkeys import ACCESS_LOG, INFLIGHT, METRICS
from gateway.http.connections import SERVER_NAME
from gateway.http.errors import (
    gateway_error_response,
    http_exception_response,
    internal_error_response,
)
from gateway.http.request_id import HEADER, request_id
from gateway.http.routes import admin_key_refusal, admitted

error_log = logging.getLogger("gateway.errors")


def stamp(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """The headers every answer carries: the request's id and the server's name. Set here
    on what handlers return; a handler that prepares its own response (the websocket
    upgrade) stamps it before preparing it."""
    headers = response.headers
    headers[HEADER] = request_id(request)
    headers[hdrs.SERVER] = SERVER_NAME


async def _respond(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place handlers' errors become responses: nothing else renders an error."""
    try:
        if not admitted(request):
            raise await admin_key_refusal(request)
        return await handler(request)
    except GatewayError as error:
        if error.status >= 500:
            extra = {"requestId": request_id(request)}
            error_log.warning("answered %d %s", error.status, error.code, extra=extra)
        elif isinstance(error, ClientGone):
            extra = {"requestId": request_id(request)}
            error_log.debug("the client closed the connection mid-request", extra=extra)
        return gateway_error_response(error)
    except web.HTTPException as exc:
        return http_exception_response(exc)
    except Exception:
        rid = request_id(request)
        error_log.exception("unhandled error", extra={"requestId": rid})
        return internal_error_response(rid)


def route_label(request: web.Request) -> str:
    """The matched route's template, so metrics and logs never carry ids or secrets."""
    route = request.match_info.route
    resource = route.resource
    return resource.canonical if resource is not None else "unmatched"


MAX_LOGGED_PATH = 256
"""A path longer than this is logged cut, with a marker saying how much was left out: a
client chooses the path, and an unmatched one would otherwise fill a log line."""


def logged_path(path: str) -> str:
    if len(path) <= MAX_LOGGED_PATH:
        return path
    return f"{path[:MAX_LOGGED_PATH]}...[{len(path) - MAX_LOGGED_PATH} more characters]"


def _is_websocket_upgrade(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request: counted in flight (websockets excepted: they are closed on shutdown),
    errors rendered, then its metrics and one access-log line. One middleware, not three:
    each layer costs every request a few microseconds."""
    started = time.perf_counter()
    app = request.app
    inflight = app[INFLIGHT]
    counted = not _is_websocket_upgrade(request)
    if counted:
        inflight.enter()
    try:
        response = await _respond(request, handler)
    finally:
        if counted:
            inflight.leave()
    if not response.prepared:
        stamp(request, response)
    if inflight.draining:
        response.force_close()
    elapsed = time.perf_counter() - started
    route = route_label(request)
    app[METRICS].observe_request(request.method, route, response.status, elapsed)
    app[ACCESS_LOG].write(
        {
            "method": request.method,
            "route": route,
            "path": logged_path(request.path),
            "status": response.status,
            "durationMs": round(elapsed * 1000, 3),
            "requestId": request_id(request),
        }
    )
    return response
