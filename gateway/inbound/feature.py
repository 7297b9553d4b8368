"""The inbound pipeline's part of the app: the activity schema, the integrations admin API,
the provider webhook route, and the integrations declared in the configuration file."""

from __future__ import annotations

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway.events.model import activity_json_schema
from gateway.http.operation import Answer, Body, Operation
from gateway.http.routes import Route, add_routes
from gateway.inbound import openapi
from gateway.inbound.handler import receive
from gateway.integrations import routes as integration_routes
from gateway.integrations.declared import create_declared

_SCHEMA = orjson.dumps(activity_json_schema())


async def activity_schema(request: web.Request) -> web.Response:
    return web.Response(body=_SCHEMA, content_type="application/schema+json")


class WebhookAccepted(BaseModel):
    """Every activity of the body is durably stored (or was already)."""

    model_config = ConfigDict(extra="forbid")

    accepted: int = Field(ge=0, description="New activities stored.")
    duplicates: int = Field(ge=0, description="Activities already seen (not fanned out again).")


WEBHOOK_DESCRIPTION = f"""The URL registered with the provider as its `webhookUrl`. The \
integration's kind says how the request is authenticated and read:

{openapi.description()}

Checks run in this order: unknown integration 404, paused 409, over the integration's \
`rateLimitPerSecond` 429, body over the limit 413, a \
Content-Type (or any Content-Encoding) the kind cannot take 415, missing signature or \
credential 401, wrong or malformed signature 403 `signature_invalid` (a wrong SCG \
credential is 401), stale timestamp 403 `timestamp_out_of_tolerance`, unparsable body 400 \
`invalid_json`, wrong shape 400 `invalid_payload`, more activities or normalised bytes than \
allowed 413. A redelivery is answered 202 and counted \
in `duplicates`. 503 means nothing was stored: the provider should retry."""

ROUTES = (
    Route(
        "GET",
        "/schema/activity.json",
        activity_schema,
        access="public",
        name="getActivitySchema",
        summary="The JSON Schema of an activity event.",
        operation=Operation(
            "Reference",
            (
                Answer(
                    200,
                    "A JSON Schema (2020-12) of the activity event.",
                    content={"application/schema+json": {"schema": {"type": "object"}}},
                ),
            ),
        ),
    ),
    Route(
        "POST",
        "/webhooks/{integration_id}",
        receive,
        access="public",
        name="receiveWebhook",
        summary="A provider's webhook: verified, normalised and stored exactly once.",
        operation=Operation(
            "Webhooks",
            (Answer(202, "Stored.", WebhookAccepted),),
            errors=(
                "invalid_json",
                "invalid_payload",
                "unauthorized",
                "signature_invalid",
                "timestamp_out_of_tolerance",
                "not_found",
                "integration_paused",
                "payload_too_large",
                "unsupported_media_type",
                "rate_limited",
                "unavailable",
            ),
            body=Body(content=openapi.request_content(), description="As the provider sends it."),
            description=WEBHOOK_DESCRIPTION,
            parameters=openapi.PARAMETERS,
            security=tuple({name: []} for kind in openapi.KINDS for name in kind.schemes),
        ),
    ),
)


def setup(app: web.Application) -> None:
    add_routes(app, ROUTES)
    integration_routes.setup(app)
    app.on_startup.append(create_declared)
