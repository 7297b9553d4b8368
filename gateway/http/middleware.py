"""The request middleware: the admin key where the route table asks for it, errors in the
contract's shape, and a log line and metrics per request."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.engine.base import EngineUnavailable
from gateway.errors import ClientGone, GatewayError
from gateway.http.appkeys import ACCESS_LOG, INFLIGHT, METRICS, TRUSTED_PROXIES
from gateway.http.errors import (
    gateway_error_response,
    http_exception_response,
    internal_error_response,
)
from gateway.http.request_id import request_id
from gateway.http.routes import authorize

error_log = logging.getLogger("gateway.errors")


async def _respond(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place handlers' errors become responses: nothing else renders an error."""
    try:
        await authorize(request)
        return await handler(request)
    except GatewayError as error:
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
    inflight = None if _is_websocket_upgrade(request) else request.app[INFLIGHT]
    if inflight is not None:
        inflight.enter()
    try:
        response = await _respond(request, handler)
    finally:
        if inflight is not None:
            inflight.leave()
    if request.app[INFLIGHT].draining:
        response.force_close()
    elapsed = time.perf_counter() - started
    route = route_label(request)
    request.app[METRICS].observe_request(request.method, route, response.status, elapsed)
    request.app[ACCESS_LOG].write(
        {
            "method": request.method,
            "route": route,
            "path": logged_path(request.path),
            "status": response.status,
            "durationMs": round(elapsed * 1000, 3),
            "requestId": request_id(request),
            "remoteAddress": request.app[TRUSTED_PROXIES].address(request),
        }
    )
    return response
