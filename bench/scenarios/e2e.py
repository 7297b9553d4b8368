"""Webhook in -> frame at the agent at a fixed rate (half the measured maximum ingest rate).

Open model: latency runs from each request's scheduled send time. The maximum comes from the
`ingest` scenario when it ran first in this invocation, else from a short probe. The gateway
and the bare broadcast baseline (at the same rate) take turns in interleaved rounds.
"""

from __future__ import annotations

from typing import Any

from bench.context import Context, cpu_note
from bench.loadgen.jobs import IngestJob, OpenLoopJob
from bench.report import Figure, ScenarioResult, Target
from bench.rounds import ROUNDS, Side, take_turns
from bench.scenarios.ingest import requests_per_second
from bench.stats import ratio

TARGET = Target("<=", 3.0, on_value=True)
LOAD_FRACTION = 0.5
PROBE_SECONDS = 3.0
RECEIVERS = 1


async def run(ctx: Context) -> ScenarioResult:
    options = ctx.options
    async with ctx.gateway("e2e") as (server, api), ctx.server("broadcast") as bare:
        integration = await api.hubster_integration()
        token = await api.agent_token(integration.hub_id)
        await api.probe_websocket(token)
        webhook = IngestJob(
            **integration.webhook_fields(server),
            duration=min(PROBE_SECONDS, options.duration),
            concurrency=options.concurrency,
        )
        if ctx.max_ingest_rate is None:
            probe = await ctx.measure("e2e: probing max ingest", webhook, webhook.duration, server)
            ctx.max_ingest_rate = requests_per_second(probe)
        target_rate = max(1.0, LOAD_FRACTION * ctx.max_ingest_rate)
        job = OpenLoopJob(
            **webhook.model_dump(exclude={"kind", "concurrency", "duration", "raw_latencies"}),
            duration=options.duration / ROUNDS,
            rate=target_rate,
            sessions=RECEIVERS,
            ws_headers={"Authorization": f"Bearer {token}"},
            raw_latencies=True,
        )
        plain = job.model_copy(
            update={"host": bare.host, "port": bare.port, "path": "/publish", "ws_headers": {}}
        )
        sides = [
            Side(f"e2e: gateway @ {target_rate:.0f}/s", job, server),
            Side("e2e: bare broadcast", plain, bare),
        ]
        gateway, baseline = await take_turns(ctx, sides, job.duration)
    return ScenarioResult(
        "e2e", figures=figures(gateway, baseline), notes=notes(gateway, baseline, target_rate)
    )


def tail_ratio(result: dict[str, Any]) -> float | None:
    return ratio(result["latency"]["p99"], result["latency"]["p50"])


def figures(gateway: dict[str, Any], baseline: dict[str, Any]) -> list[Figure]:
    cpu = max(gateway["cpuPercent"], baseline["cpuPercent"])
    latency = [
        Figure(name, gateway["latency"][name], "ms", baseline["latency"][name], None, cpu)
        for name in ("p50", "p95", "p99")
    ]
    return [
        *latency,
        Figure("p99/p50", tail_ratio(gateway), "x", tail_ratio(baseline), TARGET, cpu),
        Figure("missing frames", gateway["missing"], "frames", baseline["missing"], None, cpu),
    ]


def notes(gateway: dict[str, Any], baseline: dict[str, Any], target_rate: float) -> list[str]:
    return [
        f"rate {target_rate:.0f} req/s for {gateway['sent']} requests; "
        f"{gateway['errors']} errors; {gateway['received']} frames received",
        cpu_note("gateway", gateway, gateway["ok"]),
        cpu_note("bare broadcast", baseline, baseline["ok"]),
    ]
