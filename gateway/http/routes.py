"""The route table: every route the gateway serves, each marked `public` or `admin`.

Features declare their routes as `Route` rows and register them with `add_routes`; nothing
calls `app.router.add_*` itself. The request middleware asks `admitted` before any handler
runs: a public route is open to everyone, and every other route (an admin route, or one added
to the router behind the table's back) answers 401 without the admin key, so a route cannot
be left open by forgetting a check. The table is also what the OpenAPI document is generated
from (the registered `Route` rows in `app[ROUTE_TABLE].routes`, each with a stable `name`, a
`summary` and its `Operation`).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable
from dataclasses import KW_ONLY, dataclass
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.errors import GatewayError, Unavailable, rate_limited, unauthorized
from gateway.http.appkeys import ADMIN_KEY, ENGINE, ROUTE_TABLE, TRUSTED_PROXIES
from gateway.http.operation import Operation

Access = Literal["public", "admin"]


@dataclass(frozen=True, slots=True)
class Route:
    """One route: `name` is a stable identifier (the OpenAPI operation id), `summary` one
    line saying what it does, `operation` what it takes and answers (the OpenAPI document
    is generated from these). A GET route answers HEAD too."""

    method: str
    path: str
    handler: Handler
    _: KW_ONLY
    access: Access
    name: str
    summary: str = ""
    operation: Operation


class RouteTable:
    """The routes registered so far, and which `Route` each of aiohttp's routes serves."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._by_route: dict[web.AbstractRoute, Route] = {}

    def add(self, router: web.UrlDispatcher, route: Route) -> None:
        resource = router.add_resource(route.path)
        methods = [route.method, "HEAD"] if route.method == "GET" else [route.method]
        for method in methods:
            self._by_route[resource.add_route(method, route.handler)] = route
        self.routes.append(route)

    def is_public(self, matched: web.AbstractRoute) -> bool:
        route = self._by_route.get(matched)
        return route is not None and route.access == "public"


def add_routes(app: web.Application, routes: Iterable[Route]) -> None:
    """The one way routes join the app."""
    for route in routes:
        app[ROUTE_TABLE].add(app.router, route)


def _bearer_token(request: web.Request) -> bytes | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    # Undecodable header bytes reach us as surrogates; they can never match, but must not raise.
    return token.strip().encode("utf-8", "surrogateescape")


ADMIN_FAILURES_PER_MINUTE = 20
"""Failed admin-key attempts one client address may make in a minute (a minute's worth at
once, then one every three seconds) before its failures are answered 429 instead of 401."""


async def admin_key_refusal(request: web.Request) -> GatewayError:
    """The answer to a wrong or missing admin key: 401, or 429 `rate_limited` once the
    client's address has failed `ADMIN_FAILURES_PER_MINUTE` times in a minute, counted by
    the engine's throttle so that every process sees the same count. Only failures are
    counted and throttled: the right key always passes, so no one can lock the operator
    out by failing from the operator's address, and a 32-byte key cannot be guessed
    within any rate. If the throttle cannot be reached, the answer is the plain 401. The
    address is the client's: behind a trusted proxy, the one it forwarded
    (`gateway/http/forwarded.py`)."""
    refusal = unauthorized("The admin key is missing or wrong.")
    key = f"admin-failures:{request.app[TRUSTED_PROXIES].address(request)}"
    rate = ADMIN_FAILURES_PER_MINUTE / 60
    try:
        wait = await request.app[ENGINE].throttle.take(
            key, rate, ADMIN_FAILURES_PER_MINUTE, time.time()
        )
    except Unavailable:
        return refusal
    if wait > 0:
        return rate_limited("Too many failed admin-key attempts from this address.", wait)
    return refusal


def admitted(request: web.Request) -> bool:
    """Whether the request may reach its handler: the matched route is public or the
    request carries the admin key (compared in constant time). No route matched (404,
    405): nothing to protect, the router's own error is the answer. Checked without
    awaiting anything, as every request is; a refusal is `admin_key_refusal(request)`."""
    match_info = request.match_info
    if match_info.http_exception is not None:
        return True
    if request.app[ROUTE_TABLE].is_public(match_info.route):
        return True
    presented = _bearer_token(request)
    expected = request.app[ADMIN_KEY].encode()
    return presented is not None and hmac.compare_digest(presented, expected)
