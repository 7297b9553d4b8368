"""Admin API for integrations: create, get, list, update, delete."""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import Field

from gateway.admin.json_body import parse_body
from gateway.admin.paging import PageQuery, ResultsPage, parse_query
from gateway.errors import not_found
from gateway.http.appkeys import ENGINE, SETTINGS
from gateway.http.operation import Answer, Body, Operation
from gateway.http.routes import Route, add_routes
from gateway.integrations.lifecycle import new_integration, updated_integration
from gateway.integrations.model import (
    Integration,
    IntegrationCreate,
    IntegrationUpdate,
    IntegrationView,
)
from gateway.integrations.store import IntegrationCache, IntegrationStore
from gateway.times import now_ms


class IntegrationQuery(PageQuery):
    """`GET /integrations`: one page, of one hub's integrations when `hubId` is given."""

    hubId: str | None = Field(None, description="Only this hub's integrations.")


class IntegrationPage(ResultsPage[IntegrationView]):
    pass


INTEGRATIONS = web.AppKey("integrations", IntegrationCache)
"""The process's integrations as the webhook route reads them."""


def _store(request: web.Request) -> IntegrationStore:
    return IntegrationStore(request.app[ENGINE].registry, request.app[INTEGRATIONS])


async def _existing(request: web.Request) -> Integration:
    integration = await _store(request).get(request.match_info["integration_id"])
    if integration is None:
        raise not_found("No integration with this id.")
    return integration


async def create(request: web.Request) -> web.Response:
    body = await parse_body(request, IntegrationCreate)
    at_ms = now_ms()
    integration = new_integration(body, str(uuid.uuid4()), at_ms)
    await _store(request).create(integration)
    return web.json_response(integration.public_view(at_ms), status=201)


async def get(request: web.Request) -> web.Response:
    return web.json_response((await _existing(request)).public_view(now_ms()))


async def list_all(request: web.Request) -> web.Response:
    page = parse_query(request, IntegrationQuery)
    integrations = await _store(request).list(page.hubId)
    at_ms = now_ms()
    return web.json_response(page.of([item.public_view(at_ms) for item in integrations]))


async def update(request: web.Request) -> web.Response:
    """The body is read first (a slow client holds nothing), then the change is applied to
    the record as stored at that moment by compare-and-set: a concurrent PATCH (a rotation)
    is never overwritten by one that read the record before it, in any process."""
    patch = await parse_body(request, IntegrationUpdate)
    grace = request.app[SETTINGS].rotation_grace_seconds
    at_ms = now_ms()
    integration = await _store(request).update(
        request.match_info["integration_id"],
        lambda current: updated_integration(current, patch, at_ms, grace),
    )
    if integration is None:
        raise not_found("No integration with this id.")
    return web.json_response(integration.public_view(at_ms))


async def delete(request: web.Request) -> web.Response:
    """An update in flight cannot bring the record back: its compare-and-set finds it gone."""
    if not await _store(request).delete(request.match_info["integration_id"]):
        raise not_found("No integration with this id.")
    return web.Response(status=204)


TAG = "Integrations"
INTEGRATION = Answer(200, "The integration, with its credentials.", IntegrationView)
FOUND = ("not_found", "unavailable")

ROUTES = (
    Route(
        "POST",
        "/integrations",
        create,
        access="admin",
        name="createIntegration",
        summary="Create an integration; credentials not given are generated.",
        operation=Operation(
            TAG,
            (Answer(201, "The integration, with its credentials.", IntegrationView),),
            errors=("unavailable",),
            body=Body(IntegrationCreate),
            description="Its provider's `webhookUrl` is then `/webhooks/{integrationId}`.",
        ),
    ),
    Route(
        "GET",
        "/integrations",
        list_all,
        access="admin",
        name="listIntegrations",
        summary="Integrations, optionally of one hub, in Hubster paging.",
        operation=Operation(
            TAG,
            (Answer(200, "One page of integrations.", IntegrationPage),),
            errors=("invalid_payload", "unavailable"),
            query=IntegrationQuery,
        ),
    ),
    Route(
        "GET",
        "/integrations/{integration_id}",
        get,
        access="admin",
        name="getIntegration",
        summary="One integration with its credentials.",
        operation=Operation(TAG, (INTEGRATION,), errors=FOUND),
    ),
    Route(
        "PATCH",
        "/integrations/{integration_id}",
        update,
        access="admin",
        name="updateIntegration",
        summary="Change name, status or credentials, or regenerate keys (with a grace).",
        operation=Operation(TAG, (INTEGRATION,), errors=FOUND, body=Body(IntegrationUpdate)),
    ),
    Route(
        "DELETE",
        "/integrations/{integration_id}",
        delete,
        access="admin",
        name="deleteIntegration",
        summary="Delete an integration; its webhooks are then 404.",
        operation=Operation(TAG, (Answer(204, "Deleted."),), errors=FOUND),
    ),
)


def setup(app: web.Application) -> None:
    app[INTEGRATIONS] = IntegrationCache(app[ENGINE].registry)
    add_routes(app, ROUTES)
