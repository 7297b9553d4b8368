"""Admin request bodies: JSON objects parsed into pydantic models with contract errors.

Validation is strict and by the JSON names only, so a body is accepted exactly when the
OpenAPI document (generated from the same models) says it is: `"true"` is not a boolean nor
`"5"` a number, and `hub_id` is not `hubId`."""

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
    request: web.Request, model: type[ModelT], *, empty_allowed: bool = False
) -> ModelT:
    """The body as `model`. With `empty_allowed`, no body at all (no bytes) reads as `{}`: a
    request whose every field has a default (`POST /subscribers/{id}/rotate`) may be sent
    bare. Whitespace alone is a body, and not JSON."""
    raw = await read_limited(request, request.app[SETTINGS].max_body_bytes)
    if empty_allowed and not raw:
        raw = b"{}"
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_json() from None
    if not isinstance(data, dict):
        raise invalid_payload("The body must be a JSON object.")
    try:
        return model.model_validate_json(raw, strict=True, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise invalid_payload(describe_validation_error(exc)) from None
