"""`GET /schema/activity.json`: the activity shape as JSON Schema, public like the contract."""

from __future__ import annotations

import orjson
from aiohttp import web

from gateway.events.model import activity_json_schema

_SCHEMA = orjson.dumps(activity_json_schema())


async def activity_schema(request: web.Request) -> web.Response:
    return web.Response(body=_SCHEMA, content_type="application/schema+json")


def setup(app: web.Application) -> None:
    app.router.add_get("/schema/activity.json", activity_schema)
