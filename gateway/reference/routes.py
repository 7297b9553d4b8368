"""`GET /openapi.json` and `GET /docs`: the document and its page, public like the contract
they describe. Both are made from the app's route table on first request (every feature has
registered its routes by then) and kept: the routes do not change while the app runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.http.appkeys import ROUTE_TABLE
from gateway.http.operation import Answer, Operation
from gateway.http.routes import Route, RouteTable, add_routes
from gateway.reference.openapi import openapi_document
from gateway.reference.page import CONTENT_SECURITY_POLICY, render_page

_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def document_bytes(table: RouteTable) -> bytes:
    """The document as `docs/openapi.json` holds it: two-space indents, a final newline."""
    document = openapi_document(table.routes)
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


@dataclass
class Reference:
    """The document and the page, made once."""

    made: dict[str, bytes] = field(default_factory=dict)

    def document(self, table: RouteTable) -> bytes:
        if "document" not in self.made:
            self.made["document"] = document_bytes(table)
        return self.made["document"]

    def page(self, table: RouteTable) -> bytes:
        if "page" not in self.made:
            parsed: dict[str, Any] = json.loads(self.document(table))
            self.made["page"] = render_page(parsed).encode()
        return self.made["page"]


REFERENCE = web.AppKey("reference", Reference)


async def get_openapi(request: web.Request) -> web.Response:
    body = request.app[REFERENCE].document(request.app[ROUTE_TABLE])
    return web.Response(body=body, content_type="application/json")


async def get_docs(request: web.Request) -> web.Response:
    body = request.app[REFERENCE].page(request.app[ROUTE_TABLE])
    return web.Response(body=body, content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS)


TAG = "Reference"
ROUTES = (
    Route(
        "GET",
        "/openapi.json",
        get_openapi,
        access="public",
        name="getOpenApi",
        summary="This document: OpenAPI 3.1.",
        operation=Operation(
            TAG,
            (
                Answer(
                    200,
                    "The OpenAPI document (also in the repository as docs/openapi.json).",
                    content={"application/json": {"schema": {"type": "object"}}},
                ),
            ),
        ),
    ),
    Route(
        "GET",
        "/docs",
        get_docs,
        access="public",
        name="getDocs",
        summary="The API reference: this document as a page.",
        operation=Operation(
            TAG,
            (
                Answer(
                    200,
                    "An HTML page without scripts, under a strict Content-Security-Policy.",
                    content={"text/html": {"schema": {"type": "string"}}},
                    headers={"Content-Security-Policy": "No source but the page's stylesheet."},
                ),
            ),
        ),
    ),
)


def setup(app: web.Application) -> None:
    app[REFERENCE] = Reference()
    add_routes(app, ROUTES)
