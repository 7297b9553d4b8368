"""One error root: whatever part of the gateway raises a `GatewayError`, HTTP renders it in
the error format and the websocket maps it to one error frame and close code."""

from __future__ import annotations

import importlib
import pkgutil

import orjson
import pytest
from aiohttp import web

import gateway
import gateway.errors
from gateway.engine import EngineUnavailable
from gateway.engine.registry import RegistryConflict
from gateway.errors import (
    AccessDenied,
    ContentEncodingError,
    GatewayError,
    InboundError,
    TokenError,
    UnencodableActivity,
    invalid_payload,
)
from gateway.http.routes import add_routes
from gateway.ws.frames import RATE_LIMITED, close_code_for, gateway_error_frame
from tests.http.conftest import added_route, make_app

ERRORS: list[tuple[GatewayError, int, str]] = [
    (
        InboundError("signature_invalid", "The signature does not match.", 403),
        403,
        "signature_invalid",
    ),
    (TokenError("expired_token", "The token has expired."), 401, "expired_token"),
    (AccessDenied("The token does not grant h2"), 403, "access_denied"),
    (ContentEncodingError(), 400, "invalid_payload"),
    (UnencodableActivity("data.n: cannot be encoded as JSON."), 400, "invalid_payload"),
    (EngineUnavailable("redis at 10.0.0.7 went away"), 503, "unavailable"),
    (RegistryConflict("subscriber s1: still changing"), 503, "unavailable"),
    (
        GatewayError("integration_paused", "This integration is paused.", 409),
        409,
        "integration_paused",
    ),
]


@pytest.mark.parametrize(("error", "status", "code"), ERRORS, ids=lambda e: type(e).__name__)
async def test_any_gateway_error_is_rendered_in_the_error_format(
    aiohttp_client, error, status, code
) -> None:  # type: ignore[no-untyped-def]
    async def fail(request: web.Request) -> web.Response:
        raise error

    app = make_app()
    add_routes(app, [added_route("GET", "/test/fail", fail)])
    response = await (await aiohttp_client(app)).get("/test/fail")
    body = await response.json()
    assert response.status == status
    assert body == {"error": {"code": code, "message": error.message}}
    assert response.headers["UC-REST-ERROR"] == error.message
    assert response.headers["X-Request-Id"]


async def test_an_engine_outage_says_retry_and_keeps_its_detail_out_of_the_answer(
    aiohttp_client,
) -> None:  # type: ignore[no-untyped-def]
    async def fail(request: web.Request) -> web.Response:
        raise EngineUnavailable("redis at 10.0.0.7 went away")

    app = make_app()
    add_routes(app, [added_route("GET", "/test/fail", fail)])
    response = await (await aiohttp_client(app)).get("/test/fail")
    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    assert "10.0.0.7" not in await response.text()


@pytest.mark.parametrize(
    ("error", "close_code"),
    [
        (TokenError("unauthorized", "The token is not valid."), 4001),
        (TokenError("expired_token", "The token has expired."), 4001),
        (AccessDenied("The token grants no hub."), 4003),
        (invalid_payload("hubIds: Input should be a valid list"), 4400),
        (RATE_LIMITED, 4429),
        (EngineUnavailable("injected"), 1011),
    ],
    ids=lambda value: getattr(value, "code", str(value)),
)
def test_the_websocket_maps_each_error_to_one_frame_and_close_code(
    error: GatewayError, close_code: int
) -> None:
    assert close_code_for(error) == close_code
    frame = orjson.loads(gateway_error_frame(error))
    assert frame == {"type": "error", "error": {"code": error.code, "message": error.message}}


def _subclasses(cls: type[GatewayError]) -> set[type[GatewayError]]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def test_the_error_module_docstring_lists_every_error_class() -> None:
    for module in pkgutil.walk_packages(gateway.__path__, "gateway."):
        if not module.name.startswith("gateway.bench") and module.name != "gateway.__main__":
            importlib.import_module(module.name)
    doc = gateway.errors.__doc__ or ""
    missing = [cls.__name__ for cls in _subclasses(GatewayError) if cls.__name__ not in doc]
    assert missing == []
