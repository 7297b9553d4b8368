"""Every error in the contract's shape, with `UC-REST-ERROR` and `X-Request-Id`."""

from __future__ import annotations

import gzip
import logging

import pytest
from aiohttp import web

from gateway.http.appkeys import SETTINGS
from gateway.http.body import read_limited
from gateway.http.connections import AT_CONNECTION_LIMIT
from gateway.http.errors import ERROR_HEADER, gateway_error_response, raw_error_answer
from gateway.http.routes import add_routes
from tests.http.conftest import added_route, make_app


async def _echo_length(request: web.Request) -> web.Response:
    body = await read_limited(request, request.app[SETTINGS].max_body_bytes)
    return web.json_response({"length": len(body)})


async def _explode(request: web.Request) -> web.Response:
    raise RuntimeError("database password is hunter2")


@pytest.fixture
async def client(aiohttp_client):  # type: ignore[no-untyped-def]
    app = make_app(max_body_bytes=1024)
    add_routes(
        app,
        [
            added_route("POST", "/test/echo", _echo_length),
            added_route("GET", "/test/explode", _explode),
        ],
    )
    return await aiohttp_client(app)


def assert_error(response, body, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status == status
    assert response.content_type == "application/json"
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert response.headers["UC-REST-ERROR"] == body["error"]["message"]
    assert response.headers["X-Request-Id"]


async def test_unknown_route_is_404_not_found(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/no/such/route")
    assert_error(response, await response.json(), 404, "not_found")


async def test_wrong_method_is_405_with_allow(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.delete("/healthz")
    assert_error(response, await response.json(), 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


async def test_body_over_limit_is_413_by_content_length(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/test/echo", data=b"x" * 1025)
    assert_error(response, await response.json(), 413, "payload_too_large")


async def test_chunked_body_over_limit_is_413(client) -> None:  # type: ignore[no-untyped-def]
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"y" * 200

    response = await client.post("/test/echo", data=chunks())
    assert_error(response, await response.json(), 413, "payload_too_large")


async def test_body_at_limit_is_read(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/test/echo", data=b"x" * 1024)
    assert response.status == 200
    assert (await response.json()) == {"length": 1024}


async def test_unexpected_exception_is_500_with_request_id_and_no_internals(client, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.ERROR, logger="gateway.errors")
    response = await client.get("/test/explode", headers={"X-Request-Id": "req-42"})
    body = await response.json()
    assert_error(response, body, 500, "internal_server_error")
    assert "req-42" in body["error"]["message"]
    assert "hunter2" not in body["error"]["message"]
    assert "RuntimeError" not in body["error"]["message"]
    assert response.headers["X-Request-Id"] == "req-42"
    assert any(getattr(r, "requestId", None) == "req-42" for r in caplog.records)


async def test_request_id_is_taken_from_request_or_made(client) -> None:  # type: ignore[no-untyped-def]
    given = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert given.headers["X-Request-Id"] == "abc-123"
    made = await client.get("/healthz")
    other = await client.get("/healthz")
    assert made.headers["X-Request-Id"] != other.headers["X-Request-Id"]


async def test_unsafe_request_id_is_replaced(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
    assert response.headers["X-Request-Id"] != "bad id\twith spaces"
    assert len(response.headers["X-Request-Id"]) == 32


async def test_body_that_does_not_decode_as_its_encoding_is_400(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/test/echo", data=b"definitely not gzip", headers={"Content-Encoding": "gzip"}
    )
    assert_error(response, await response.json(), 400, "invalid_payload")


async def test_compressed_body_over_limit_after_decoding_is_413(client) -> None:  # type: ignore[no-untyped-def]
    bomb = gzip.compress(b"\0" * 100_000)
    assert len(bomb) < 1024
    response = await client.post("/test/echo", data=bomb, headers={"Content-Encoding": "gzip"})
    assert_error(response, await response.json(), 413, "payload_too_large")


def test_a_raw_error_answer_is_the_rendered_error_as_bytes() -> None:
    """The connection cap's canned answer comes from the same renderer as every other
    error: same status, body, error header and the error's own headers."""
    error = AT_CONNECTION_LIMIT
    head, rest = raw_error_answer(error, {"Connection": "close"})
    status_line, *lines = head.decode("latin-1").removesuffix("\r\n").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    blank, body = rest[:2], rest[2:]
    rendered = gateway_error_response(error)
    assert status_line == "HTTP/1.1 503 Service Unavailable"
    assert blank == b"\r\n"
    assert body == rendered.body
    assert int(headers["Content-Length"]) == len(body)
    assert headers["Content-Type"] == "application/json"
    assert headers[ERROR_HEADER] == rendered.headers[ERROR_HEADER]
    assert (headers["Retry-After"], headers["Connection"]) == ("1", "close")
