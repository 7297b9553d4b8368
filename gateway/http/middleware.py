"""The request middleware: errors in the contract's shape; a log line and metrics per request."""

from __future__ import annotations

import logging
import re
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.engine import EngineUnavailable
from gateway.errors import ApiError, error_response, unavailable
from gateway.http.access_log import AccessLog
from gateway.http.appkeys import METRICS
from gateway.http.inflight import INFLIGHT
from gateway.http.request_id import request_id

error_log = logging.getLogger("gateway.errors")

ACCESS_LOG = web.AppKey("access_log", AccessLog)

_HTTP_ERROR_CODES = {
    404: ("not_found", "No route matches this path."),
    405: ("method_not_allowed", "This route does not accept that method."),
    413: ("payload_too_large", "The request body is over the size limit."),
    415: ("unsupported_media_type", "This route does not accept that content type."),
}


def _snake(reason: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", reason.lower()).strip("_") or "error"


def _from_http_exception(exc: web.HTTPException) -> web.StreamResponse:
    if exc.status < 400:
        return exc
    code, message = _HTTP_ERROR_CODES.get(exc.status, (_snake(exc.reason), exc.reason))
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return error_response(exc.status, code, message, headers)


async def _respond(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place errors become responses: nothing else renders an error."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.headers)
    except EngineUnavailable:
        error_log.warning("engine unavailable", extra={"requestId": request_id(request)})
        exc503 = unavailable()
        return error_response(exc503.status, exc503.code, exc503.message, exc503.headers)
    except web.HTTPException as exc:
        return _from_http_exception(exc)
    except Exception:
        rid = request_id(request)
        error_log.exception("unhandled error", extra={"requestId": rid})
        return error_response(
            500, "internal_server_error", f"Internal server error (request id {rid})."
        )


def route_label(request: web.Request) -> str:
    """The matched route's template, so metrics and logs never carry ids or secrets."""
    route = request.match_info.route
    resource = route.resource
    return resource.canonical if resource is not None else "unmatched"


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
            "path": request.path,
            "status": response.status,
            "durationMs": round(elapsed * 1000, 3),
            "requestId": request_id(request),
        }
    )
    return response
