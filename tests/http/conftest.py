"""In-process app fixtures for the HTTP shell."""

from __future__ import annotations

from aiohttp import web

from gateway.config import Settings
from gateway.engine import Engine
from gateway.engine.memory import MemoryEngine
from gateway.http.app import build_app
from gateway.http.operation import Answer, Operation

ADMIN_KEY = "test-admin-key"
TEST_OPERATION = Operation("Test", (Answer(200, "A route of a test."),))


def make_app(engine: Engine | None = None, **settings: object) -> web.Application:
    return build_app(
        Settings(**settings),  # type: ignore[arg-type]
        engine or MemoryEngine(),
        admin_key=ADMIN_KEY,
        jwt_secret="test-jwt-secret",
    )
