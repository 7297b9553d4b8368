"""Server memory per idle authenticated session vs bare aiohttp websockets held idle.

Per session = (server VmRSS with the sessions open - VmRSS before) / sessions, each server
warmed up with one session first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.context import Context
from bench.gateway_api import probe_websocket
from bench.loadgen.jobs import SessionsJob
from bench.procs import Server, rss_bytes
from bench.report import Figure, ScenarioResult, Target

TARGET = Target("<=", 1.3)
SETTLE_SECONDS = 1.0
KIB = 1024


async def run(ctx: Context) -> ScenarioResult:
    options = ctx.options
    async with ctx.gateway("idle") as (server, api):
        integration = await api.hubster_integration()
        token = await api.agent_token(integration.hub_id)
        headers = {"Authorization": f"Bearer {token}"}
        await probe_websocket(server.base_url, headers)
        job = SessionsJob(
            host=server.host, port=server.port, sessions=options.sessions, ws_headers=headers
        )
        gateway = await _held(ctx, "idle: gateway", server, job)
    async with ctx.server("bare") as bare:
        await probe_websocket(bare.base_url, {})
        plain = job.model_copy(update={"host": bare.host, "port": bare.port, "ws_headers": {}})
        baseline = await _held(ctx, "idle: bare websockets", bare, plain)
    per_session = _per_session(gateway)
    figure = Figure("memory/session", per_session, "KiB", _per_session(baseline), TARGET)
    return ScenarioResult("idle", figures=[figure], notes=_notes(gateway, baseline))


async def _held(ctx: Context, label: str, server: Server, job: SessionsJob) -> dict[str, Any]:
    before = rss_bytes(server.pid)
    async with ctx.sessions(label, job) as generator:
        await asyncio.sleep(SETTLE_SECONDS)
        after = rss_bytes(server.pid)
        result = await generator.finish()
    return {**result, "before": before, "after": after, "held": result["sessions"]}


def _per_session(result: dict[str, Any]) -> float:
    grown: int = result["after"] - result["before"]
    return grown / KIB / max(1, int(result["held"]))


def _notes(gateway: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    return [
        f"{name}: VmRSS {result['before'] / KIB**2:.1f} -> {result['after'] / KIB**2:.1f} MiB "
        f"for {result['held']} sessions ({result['closedByServer']} closed by the server)"
        for name, result in (("gateway", gateway), ("bare", baseline))
    ]
