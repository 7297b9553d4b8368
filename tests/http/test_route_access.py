"""Admin auth in one place: every route the app serves is public only if this file says so.

The allow-list below is the whole list of public routes, written here on purpose rather
than read from the route table: a route added later (or marked public by mistake) answers
401 without the admin key, or this test fails.
"""

from __future__ import annotations

import re

import pytest
from aiohttp import web

from gateway.http.appkeys import ROUTE_TABLE
from gateway.http.routes import ADMIN_FAILURES_PER_MINUTE, add_routes
from tests.http.conftest import ADMIN_KEY, added_route, make_app

PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/schema/activity.json"),
        ("POST", "/webhooks/{}"),
        ("GET", "/ws"),
        ("GET", "/console"),
        ("GET", "/console/{}"),
        ("GET", "/gateway-client.js"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
    }
)
"""(method, path) open without the admin key; `{}` stands for any placeholder. A GET route
answers HEAD too, with the same access. Any other method on these paths is an admin route."""

ADMIN_ROUTES = {
    ("POST", "/integrations"),
    ("GET", "/integrations/{}"),
    ("PUT", "/agent/auth"),
    ("GET", "/hubs/{}/presence"),
    ("POST", "/subscribers/{}/replay"),
}
"""A few routes the contract puts behind the admin key: the walk must find them."""


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def _served(app: web.Application) -> list[tuple[str, str]]:
    """(method, path template) of every route the app's router has."""
    served = []
    for route in app.router.routes():
        assert route.resource is not None
        served.append((route.method, route.resource.canonical))
    return served


def _allow_listed(method: str, path: str) -> bool:
    return ("GET" if method == "HEAD" else method, _shape(path)) in PUBLIC_ROUTES


def _admin_routes(app: web.Application) -> list[tuple[str, str]]:
    return [(method, path) for method, path in _served(app) if not _allow_listed(method, path)]


def _marked_public(app: web.Application) -> set[tuple[str, str]]:
    return {
        (route.method, _shape(route.path))
        for route in app[ROUTE_TABLE].routes
        if route.access == "public"
    }


def test_the_routes_marked_public_are_exactly_the_allow_list() -> None:
    """Both ways: nothing is public that this file does not name, and every entry here is a
    route the app has (an entry left over would allow-list a route added later)."""
    assert _marked_public(make_app()) == PUBLIC_ROUTES


async def test_another_method_on_a_public_path_marked_public_is_caught(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    async def delete(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app = make_app()
    add_routes(app, [added_route("DELETE", "/webhooks/{integration_id}", delete)])
    assert ("DELETE", "/webhooks/{}") in _marked_public(app) - PUBLIC_ROUTES
    assert ("DELETE", "/webhooks/{integration_id}") in _admin_routes(app)
    client = await aiohttp_client(app)
    assert (await client.delete("/webhooks/some-id")).status == 204  # the walk would fail


def test_the_walk_sees_the_admin_routes() -> None:
    shapes = {(method, _shape(path)) for method, path in _admin_routes(make_app())}
    assert shapes >= ADMIN_ROUTES
    assert ("HEAD", "/integrations") in shapes


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {ADMIN_KEY}"])
async def test_every_route_not_allow_listed_is_401_without_the_admin_key(
    aiohttp_client, authorization
) -> None:  # type: ignore[no-untyped-def]
    routes = _admin_routes(make_app())
    headers = {} if authorization is None else {"Authorization": authorization}
    answered = {}
    for index, (method, path) in enumerate(routes):
        if index % ADMIN_FAILURES_PER_MINUTE == 0:
            # A fresh gateway every 20 failures: past them, one address is answered 429.
            client = await aiohttp_client(make_app())
        url = re.sub(r"\{[^}]*\}", "some-id", path)
        response = await client.request(method, url, headers=headers, json={})
        body = None if method == "HEAD" else await response.json()
        answered[(method, path)] = (response.status, response.headers.get("UC-REST-ERROR"))
        if body is not None:
            assert body == {
                "error": {"code": "unauthorized", "message": "The admin key is missing or wrong."}
            }
    expected = (401, "The admin key is missing or wrong.")
    assert {route: answer for route, answer in answered.items() if answer != expected} == {}


async def test_the_admin_key_opens_an_admin_route(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(make_app())
    key = {"Authorization": f"Bearer {ADMIN_KEY}"}
    response = await client.get("/hubs/h1/presence", headers=key)
    assert response.status == 200
    response = await client.get("/subscribers", headers=key)
    assert response.status == 200


async def test_a_route_added_behind_the_tables_back_needs_the_admin_key(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    async def sneaky(request: web.Request) -> web.Response:
        return web.json_response({"secret": "data"})

    app = make_app()
    app.router.add_get("/sneaky", sneaky)
    client = await aiohttp_client(app)
    response = await client.get("/sneaky")
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"
    response = await client.get("/sneaky", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert response.status == 200


def test_the_route_table_lists_every_route_the_router_has() -> None:
    app = make_app()
    table = app[ROUTE_TABLE].routes
    declared = {(route.method, route.path) for route in table}
    served = {(method, path) for method, path in _served(app) if method != "HEAD"}
    assert declared == served
    names = [route.name for route in table]
    assert all(names) and len(set(names)) == len(names)
