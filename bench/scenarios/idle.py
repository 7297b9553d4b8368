"""Server memory per idle authenticated session vs bare aiohttp websockets held idle.

Per session = (server VmRSS with the sessions open - VmRSS before) / sessions, each server
warmed up with one session first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.context import Context
from bench.gateway_api import probe_websocket
from bench.loadgen.jobs import IdleJob
from bench.procs import Server, rss_bytes
from bench.report import Figure, ScenarioResult, Target

TARGET = Target("<=", 1.5)
SETTLE_SECONDS = 1.0
KIB = 1024


async def run(ctx: Context) -> ScenarioResult:
    options = ctx.options
    expected = 2 + 5 * options.sessions / 1000
    async with ctx.gateway("idle") as (server, api):
        integration = await api.hubster_integration()
        token = await api.agent_token(integration.hub_id)
        headers = {"Authorization": f"Bearer {token}"}
        await probe_websocket(server.base_url, headers)
        job = IdleJob(host=server.host, port=server.port, sessions=options.sessions)
        job = job.model_copy(update={"ws_headers": headers})
        gateway = await _held(ctx, "idle: gateway", server, job, expected)
    async with ctx.server("bare") as bare:
        await probe_websocket(bare.base_url, {})
        plain = job.model_copy(update={"host": bare.host, "port": bare.port, "ws_headers": {}})
        baseline = await _held(ctx, "idle: bare websockets", bare, plain, expected)
    per_session = _per_session(gateway)
    figure = Figure("memory/session", per_session, "KiB", _per_session(baseline), TARGET)
    return ScenarioResult("idle", figures=[figure], notes=_notes(gateway, baseline))


async def _held(
    ctx: Context, label: str, server: Server, job: IdleJob, expected: float
) -> dict[str, Any]:
    before = rss_bytes(server.pid)
    held: dict[str, int] = {}

    async def measure(report: dict[str, Any]) -> None:
        await asyncio.sleep(SETTLE_SECONDS)
        held["rss"] = rss_bytes(server.pid)
        held["sessions"] = int(report["sessions"])

    result = await ctx.measure(label, job, expected, server, measure)
    return {**result, "before": before, "after": held["rss"], "held": held["sessions"]}


def _per_session(result: dict[str, Any]) -> float:
    grown: int = result["after"] - result["before"]
    return grown / KIB / max(1, int(result["held"]))


def _notes(gateway: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    return [
        f"{name}: VmRSS {result['before'] / KIB**2:.1f} -> {result['after'] / KIB**2:.1f} MiB "
        f"for {result['held']} sessions ({result['closedByServer']} closed by the server)"
        for name, result in (("gateway", gateway), ("bare", baseline))
    ]
