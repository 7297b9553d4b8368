"""The one error shape of contract §1, and the exception that carries it to the middleware."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from aiohttp import web

ERROR_HEADER = "UC-REST-ERROR"


class ApiError(Exception):
    """An error answer: raised anywhere in a handler, rendered once by the error middleware."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def unauthorized(message: str = "Missing or invalid credentials.") -> ApiError:
    return ApiError(401, "unauthorized", message)


def not_found(message: str = "Not found.") -> ApiError:
    return ApiError(404, "not_found", message)


def invalid_payload(message: str) -> ApiError:
    return ApiError(400, "invalid_payload", message)


def unavailable(message: str = "The event store is unavailable; retry later.") -> ApiError:
    return ApiError(503, "unavailable", message, {"Retry-After": "5"})


def error_body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


def _header_safe(message: str) -> str:
    """Header values must be single-line latin-1; the body keeps the full text."""
    text = " ".join(message.split())
    return text.encode("latin-1", "replace").decode("latin-1")


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    response = web.Response(
        status=status,
        body=error_body(code, message),
        content_type="application/json",
        headers=headers,
    )
    response.headers[ERROR_HEADER] = _header_safe(message)
    return response
