"""The inbound pipeline's part of the app: the activity schema, the integrations admin API,
the provider webhook route, and the integrations declared in the configuration file."""

from __future__ import annotations

import orjson
from aiohttp import web

from gateway.events.model import activity_json_schema
from gateway.http.routes import Route, add_routes
from gateway.inbound.handler import receive
from gateway.integrations import routes as integration_routes
from gateway.integrations.declared import create_declared

_SCHEMA = orjson.dumps(activity_json_schema())


async def activity_schema(request: web.Request) -> web.Response:
    return web.Response(body=_SCHEMA, content_type="application/schema+json")


ROUTES = (
    Route(
        "GET",
        "/schema/activity.json",
        activity_schema,
        access="public",
        name="getActivitySchema",
        summary="The JSON Schema of an activity event.",
    ),
    Route(
        "POST",
        "/webhooks/{integration_id}",
        receive,
        access="public",
        name="receiveWebhook",
        summary="A provider's webhook: verified, normalised and stored exactly once.",
    ),
)


def setup(app: web.Application) -> None:
    add_routes(app, ROUTES)
    integration_routes.setup(app)
    app.on_startup.append(create_declared)
