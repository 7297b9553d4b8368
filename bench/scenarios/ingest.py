"""Signed 1 KB Hubster webhooks at maximum rate vs a bare aiohttp handler returning 204,
both servers up side by side and measured in interleaved rounds."""

from __future__ import annotations

from typing import Any

from bench.context import Context, cpu_note
from bench.loadgen.jobs import IngestJob
from bench.report import Figure, ScenarioResult, Target
from bench.rounds import ROUNDS, Side, take_turns
from bench.stats import rate

TARGET = Target(">=", 0.5)


async def run(ctx: Context) -> ScenarioResult:
    options = ctx.options
    async with ctx.gateway("ingest") as (server, api), ctx.server("bare") as bare:
        integration = await api.hubster_integration()
        job = IngestJob(
            **integration.webhook_fields(server),
            duration=options.duration / ROUNDS,
            concurrency=options.concurrency,
            raw_latencies=True,
        )
        plain = job.model_copy(update={"host": bare.host, "port": bare.port, "path": "/webhook"})
        sides = [Side("ingest: gateway", job, server), Side("ingest: bare handler", plain, bare)]
        gateway, baseline = await take_turns(ctx, sides, job.duration)
    ctx.max_ingest_rate = requests_per_second(gateway)
    return ScenarioResult(
        "ingest", figures=figures(gateway, baseline), notes=notes(gateway, baseline)
    )


def requests_per_second(result: dict[str, Any]) -> float:
    return rate(result["ok"], result["seconds"])


def figures(gateway: dict[str, Any], baseline: dict[str, Any]) -> list[Figure]:
    cpu = max(gateway["cpuPercent"], baseline["cpuPercent"])
    return [
        Figure(
            "requests/s",
            requests_per_second(gateway),
            "req/s",
            requests_per_second(baseline),
            TARGET,
            cpu,
        ),
        Figure("p50", gateway["latency"]["p50"], "ms", baseline["latency"]["p50"], None, cpu),
        Figure("p99", gateway["latency"]["p99"], "ms", baseline["latency"]["p99"], None, cpu),
        Figure("errors", gateway["errors"], "req", baseline["errors"], None, cpu),
    ]


def notes(gateway: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    return [
        f"gateway answers by status: {gateway['statuses']}; {ROUNDS} interleaved rounds",
        cpu_note("gateway", gateway, gateway["ok"]),
        cpu_note("bare handler", baseline, baseline["ok"]),
    ]
