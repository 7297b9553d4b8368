"""Admin request bodies: JSON objects parsed into pydantic models with contract errors."""

from __future__ import annotations

from typing import TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.errors import describe_validation_error, invalid_json, invalid_payload
from gateway.http.appkeys import SETTINGS
from gateway.http.body import read_limited

ModelT = TypeVar("ModelT", bound=BaseModel)


async def parse_body(
    request: web.Request, model: type[ModelT], *, optional: bool = False
) -> ModelT:
    """The body as `model`; an `optional` body may be empty (no bytes, or only whitespace),
    which reads as `{}`."""
    raw = await read_limited(request, request.app[SETTINGS].max_body_bytes)
    if optional and not raw.strip():
        raw = b"{}"
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_json() from None
    if not isinstance(data, dict):
        raise invalid_payload("The body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_payload(describe_validation_error(exc)) from None
