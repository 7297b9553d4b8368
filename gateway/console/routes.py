"""Serving the console's static files: read once from the package, sent with a strict
Content-Security-Policy, their content type, and an ETag to revalidate against.

URL layout: `/console` is the page, `/console/<file>` its stylesheet and scripts, and
`/gateway-client.js` the client library at a short, stable URL dashboards import. Every
one is public: they hold no data, and the page reaches nothing without an agent token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import web

from gateway.errors import not_found
from gateway.http.operation import Answer, Operation
from gateway.http.routes import Route, add_routes

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""No inline script or style anywhere, so no provider text can ever run. `connect-src 'self'`
covers the page's own websocket (`ws:`/`wss:` of the same host, CSP Level 3). Images may
come from any https: or data: URL because messages carry them."""

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}
_COMMON_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
CLIENT_LIBRARY = "gateway-client.js"
CONSOLE_ASSETS = ("console.css", "console.js", "board.js", "render.js")


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    etag: str
    headers: dict[str, str]

    @classmethod
    def load(cls, name: str, **extra_headers: str) -> StaticFile:
        body = (resources.files(__package__) / "static" / name).read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        content_type = _CONTENT_TYPES[name[name.rindex(".") :]]
        headers = {**_COMMON_HEADERS, **extra_headers, "Content-Type": content_type}
        return cls(body, etag, headers | {"ETag": etag})

    def response(self, request: web.Request) -> web.Response:
        """Cached copies are revalidated on every load (`no-cache`): a 304 when unchanged,
        so an upgraded gateway never serves a page with last version's script."""
        if self.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=self.headers)
        return web.Response(body=self.body, headers=self.headers)


POLICY_HEADER = {"Content-Security-Policy": "Scripts and styles of this gateway only."}


def _static_operation(
    media_types: tuple[str, ...],
    description: str,
    errors: tuple[str, ...] = (),
    parameters: tuple[dict[str, Any], ...] = (),
) -> Operation:
    return Operation(
        "Console",
        (
            Answer(
                200,
                description,
                content={media: {"schema": {"type": "string"}} for media in media_types},
                headers={"ETag": "The file's version.", **POLICY_HEADER},
            ),
            Answer(304, "Not Modified: `If-None-Match` named the current `ETag`."),
        ),
        errors=errors,
        parameters=parameters,
    )


def setup(app: web.Application) -> None:
    page = StaticFile.load("index.html")
    assets = {name: StaticFile.load(name) for name in CONSOLE_ASSETS}
    # Dashboards on other origins import the library as a module script, which needs CORS;
    # it is public code, so any origin may.
    library = StaticFile.load(
        CLIENT_LIBRARY,
        **{"Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin"},
    )

    async def console_page(request: web.Request) -> web.Response:
        return page.response(request)

    async def console_asset(request: web.Request) -> web.Response:
        asset = assets.get(request.match_info["name"])
        if asset is None:
            raise not_found("No console file by that name.")
        return asset.response(request)

    async def client_library(request: web.Request) -> web.Response:
        return library.response(request)

    add_routes(
        app,
        (
            Route(
                "GET",
                "/console",
                console_page,
                access="public",
                name="getConsole",
                summary="The agent console (HTML).",
                operation=_static_operation(("text/html",), "The console's page."),
            ),
            Route(
                "GET",
                "/console/{name}",
                console_asset,
                access="public",
                name="getConsoleFile",
                summary="The console's stylesheet and scripts.",
                operation=_static_operation(
                    ("text/javascript", "text/css"),
                    "A script, or the stylesheet.",
                    errors=("not_found",),
                    parameters=(
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"enum": list(CONSOLE_ASSETS)},
                        },
                    ),
                ),
            ),
            Route(
                "GET",
                "/" + CLIENT_LIBRARY,
                client_library,
                access="public",
                name="getGatewayClient",
                summary="gateway-client.js, the browser client.",
                operation=_static_operation(
                    ("text/javascript",), "The library, as an ES module any origin may import."
                ),
            ),
        ),
    )
