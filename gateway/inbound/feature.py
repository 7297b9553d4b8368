"""The inbound pipeline's part of the app: the activity schema, the integrations admin API,
the provider webhook route, and the integrations declared in the configuration file."""

from __future__ import annotations

from aiohttp import web

from gateway.events import schema_route
from gateway.inbound.handler import receive
from gateway.integrations import routes
from gateway.integrations.declared import create_declared


def setup(app: web.Application) -> None:
    schema_route.setup(app)
    routes.setup(app)
    app.router.add_post("/webhooks/{integration_id}", receive)
    app.on_startup.append(create_declared)
