"""N agent sessions each receiving every event vs a bare aiohttp broadcast of the same events."""

from __future__ import annotations

from typing import Any

from bench.context import Context, cpu_note
from bench.loadgen.jobs import FanoutJob
from bench.report import Figure, ScenarioResult, Target
from bench.stats import rate

TARGET = Target(">=", 0.6)
CONNECT_SECONDS_PER_1000 = 5.0


async def run(ctx: Context) -> ScenarioResult:
    options = ctx.options
    expected = options.duration + CONNECT_SECONDS_PER_1000 * options.sessions / 1000
    async with ctx.gateway("fanout") as (server, api):
        integration = await api.hubster_integration()
        token = await api.agent_token(integration.hub_id)
        await api.probe_websocket(token)
        job = FanoutJob(
            **integration.webhook_fields(server),
            duration=options.duration,
            sessions=options.sessions,
            ws_headers={"Authorization": f"Bearer {token}"},
        )
        gateway = await ctx.measure("fanout: gateway", job, expected, server)
    async with ctx.server("broadcast") as bare:
        plain = job.model_copy(
            update={"host": bare.host, "port": bare.port, "path": "/publish", "ws_headers": {}}
        )
        baseline = await ctx.measure("fanout: bare broadcast", plain, expected, bare)
    return ScenarioResult(
        "fanout", figures=figures(gateway, baseline), notes=notes(gateway, baseline)
    )


def frames_per_second(result: dict[str, Any]) -> float:
    return rate(result["frames"], result["seconds"])


def figures(gateway: dict[str, Any], baseline: dict[str, Any]) -> list[Figure]:
    cpu = max(gateway["cpuPercent"], baseline["cpuPercent"])
    return [
        Figure(
            "frames/s",
            frames_per_second(gateway),
            "frames/s",
            frames_per_second(baseline),
            TARGET,
            cpu,
        ),
        Figure("p50", gateway["latency"]["p50"], "ms", baseline["latency"]["p50"], None, cpu),
        Figure("p99", gateway["latency"]["p99"], "ms", baseline["latency"]["p99"], None, cpu),
        Figure("lost frames", gateway["lostFrames"], "frames", baseline["lostFrames"], None, cpu),
    ]


def notes(gateway: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    return [
        f"gateway: {gateway['events']} events published, {gateway['errors']} publish errors, "
        f"{gateway['closedByServer']} sessions closed by the server",
        f"bare broadcast: {baseline['events']} events published",
        cpu_note("gateway", gateway),
        cpu_note("bare broadcast", baseline),
    ]
