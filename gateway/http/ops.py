"""Operations routes: liveness, readiness (really checked) and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway.engine import EngineUnavailable
from gateway.http.appkeys import ENGINE, INFLIGHT, LOOPS, METRICS
from gateway.http.errors import ErrorDetail, error_response
from gateway.http.operation import Answer, Operation
from gateway.http.routes import Route, add_routes

ENGINE_PING_TIMEOUT_SECONDS = 2.0
TAG = "Operations"


class Liveness(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ok"]


class Readiness(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ready"]
    problems: list[str] = Field(max_length=0)


class NotReady(BaseModel):
    """Not ready: the error format, with every problem found listed beside it."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail
    problems: list[str] = Field(min_length=1)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    problems = list(request.app[LOOPS].problems())
    if request.app[INFLIGHT].draining:
        problems.append("shutting down")
    try:
        await asyncio.wait_for(request.app[ENGINE].ping(), ENGINE_PING_TIMEOUT_SECONDS)
    except (EngineUnavailable, TimeoutError):
        problems.append("engine is unreachable")
    if not problems:
        return web.json_response({"status": "ready", "problems": []})
    message = "Not ready: " + "; ".join(problems) + "."
    return error_response(503, "unavailable", message, problems=problems)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


ROUTES = (
    Route(
        "GET",
        "/healthz",
        healthz,
        access="public",
        name="getHealthz",
        summary="Liveness.",
        operation=Operation(TAG, (Answer(200, "The process runs.", Liveness),)),
    ),
    Route(
        "GET",
        "/readyz",
        readyz,
        access="public",
        name="getReadyz",
        summary="Readiness: the engine answers and every loop is alive.",
        operation=Operation(
            TAG,
            (
                Answer(200, "Ready.", Readiness),
                Answer(
                    503,
                    "Not ready (engine unreachable, a loop stalled, shutting down): the "
                    "error format with code `unavailable` and the problems.",
                    NotReady,
                ),
            ),
        ),
    ),
    Route(
        "GET",
        "/metrics",
        metrics,
        access="public",
        name="getMetrics",
        summary="Prometheus text.",
        operation=Operation(
            TAG,
            (
                Answer(
                    200,
                    "Prometheus text exposition format 0.0.4.",
                    content={"text/plain": {"schema": {"type": "string"}}},
                ),
            ),
        ),
    ),
)


def setup(app: web.Application) -> None:
    add_routes(app, ROUTES)
