"""In-process app fixtures for the HTTP shell."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.config import Settings
from gateway.engine import Engine
from gateway.engine.memory import MemoryEngine
from gateway.http.app import build_app
from gateway.http.operation import Answer, Operation
from gateway.http.routes import Route

ADMIN_KEY = "http-tests-admin-key-0123456789abcdef"


def make_app(engine: Engine | None = None, **settings: object) -> web.Application:
    return build_app(
        Settings(**settings),  # type: ignore[arg-type]
        engine or MemoryEngine(),
        admin_key=ADMIN_KEY,
        jwt_secret="http-tests-jwt-secret-0123456789abcdef",
    )


def added_route(method: str, path: str, handler: Handler) -> Route:
    """A public route only a test adds (named after its path)."""
    name = "test" + path.rsplit("/", 1)[-1].title()
    operation = Operation("Test", (Answer(200, "A route of a test."),))
    return Route(method, path, handler, access="public", name=name, operation=operation)
