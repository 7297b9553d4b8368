"""The console's files over HTTP: public, each with its content type, a strict CSP, and an
ETag a browser revalidates against."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.config import Settings
from gateway.console.routes import CONTENT_SECURITY_POLICY
from gateway.engine.memory import MemoryEngine
from gateway.http.app import build_app
from tests.conftest import ROOT

STATIC = ROOT / "gateway" / "console" / "static"
FILES = {
    "/console": ("index.html", "text/html; charset=utf-8"),
    "/console/console.css": ("console.css", "text/css; charset=utf-8"),
    "/console/console.js": ("console.js", "text/javascript; charset=utf-8"),
    "/console/board.js": ("board.js", "text/javascript; charset=utf-8"),
    "/console/render.js": ("render.js", "text/javascript; charset=utf-8"),
    "/gateway-client.js": ("gateway-client.js", "text/javascript; charset=utf-8"),
}


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient[Any, Any]:
    app = build_app(Settings(port=0), MemoryEngine(), admin_key="k" * 32, jwt_secret="s" * 32)
    return await aiohttp_client(app)


@pytest.mark.parametrize("path", FILES)
async def test_served_without_the_admin_key_with_its_type_and_policy(
    client: TestClient[Any, Any], path: str
) -> None:
    name, content_type = FILES[path]
    response = await client.get(path)
    assert response.status == 200
    assert await response.read() == (STATIC / name).read_bytes()
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-cache"

    again = await client.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304
    assert await again.read() == b""
    head = await client.head(path)
    assert head.status == 200


def test_every_static_file_is_served() -> None:
    assert {name for name, _ in FILES.values()} == {path.name for path in STATIC.iterdir()}


def test_the_policy_allows_nothing_inline_and_nothing_foreign_but_images() -> None:
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["img-src"] == "'self' https: data:"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_no_inline_script_or_style_and_no_inner_html() -> None:
    page = (STATIC / "index.html").read_text()
    assert page.count("<script") == 1 and 'src="/console/console.js"' in page
    assert not re.search(r"<style|\sstyle\s*=", page)
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", page), "no inline event handlers"
    for script in STATIC.glob("*.js"):
        source = script.read_text()
        sinks = (
            r"\.(innerHTML|outerHTML)\s*\+?=|insertAdjacentHTML|document\.write|\beval\(|Function\("
        )
        assert not re.search(sinks, source), f"{script.name} writes HTML or code from text"


async def test_the_client_library_may_be_imported_from_any_origin(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/gateway-client.js", headers={"Origin": "https://desk.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    page = await client.get("/console", headers={"Origin": "https://desk.example"})
    assert "Access-Control-Allow-Origin" not in page.headers


async def test_unknown_console_file_is_404_in_the_error_format(
    client: TestClient[Any, Any],
) -> None:
    for path in ("/console/nope.js", "/console/..%2fgateway-client.js", "/console/index.html"):
        response = await client.get(path)
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"
