"""Signed 1 KB Hubster webhooks at maximum rate vs a bare aiohttp handler returning 204.

Both servers run side by side and the two sides take turns (gateway, bare, gateway, ...) in
`ROUNDS` slices of the duration, so a disturbance from outside (the machine is shared)
falls on both sides alike instead of on whichever happened to run at the time.
"""

from __future__ import annotations

from typing import Any

from gateway.bench.context import Context, cpu_note
from gateway.bench.loadgen.jobs import IngestJob
from gateway.bench.report import Figure, ScenarioResult, Target
from gateway.bench.stats import LatencySummary, rate

TARGET = Target(">=", 0.5)
ROUNDS = 3


async def run(ctx: Context) -> ScenarioResult:
    options = ctx.options
    gateway_runs: list[dict[str, Any]] = []
    baseline_runs: list[dict[str, Any]] = []
    async with ctx.gateway("ingest") as (server, api), ctx.server("bare") as bare:
        integration_id, hub_id, private_key = await api.hubster_integration()
        job = IngestJob(
            host=server.host,
            port=server.port,
            path=f"/webhooks/{integration_id}",
            hub_id=hub_id,
            private_key=private_key,
            duration=options.duration / ROUNDS,
            concurrency=options.concurrency,
            raw_latencies=True,
        )
        plain = job.model_copy(update={"host": bare.host, "port": bare.port, "path": "/webhook"})
        for round_number in range(1, ROUNDS + 1):
            label = f"({round_number}/{ROUNDS})"
            gateway_runs.append(
                await ctx.measure(f"ingest: gateway {label}", job, job.duration, server)
            )
            baseline_runs.append(
                await ctx.measure(f"ingest: bare handler {label}", plain, job.duration, bare)
            )
    gateway, baseline = merged(gateway_runs), merged(baseline_runs)
    ctx.max_ingest_rate = requests_per_second(gateway)
    return ScenarioResult(
        "ingest", figures=figures(gateway, baseline), notes=notes(gateway, baseline)
    )


def merged(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from several rounds: counts and seconds added, latencies pooled, CPU
    weighted by time (the generator's at its highest, for the VOID rule)."""
    seconds = sum(float(run["seconds"]) for run in runs)
    statuses: dict[str, int] = {}
    for run in runs:
        for status, count in run["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count

    def weighted(key: str) -> float | None:
        if seconds <= 0 or any(run.get(key) is None for run in runs):
            return None
        total = sum(float(run[key]) * float(run["seconds"]) for run in runs)
        return total / seconds

    return {
        "ok": sum(run["ok"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
        "statuses": statuses,
        "seconds": seconds,
        "latency": LatencySummary.of([ms for run in runs for ms in run["latenciesMs"]]).to_json(),
        "cpuPercent": max(run["cpuPercent"] for run in runs),
        "serverCpuPercent": weighted("serverCpuPercent"),
        "machineCpuPercent": weighted("machineCpuPercent"),
    }


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
        cpu_note("gateway", gateway),
        cpu_note("bare handler", baseline),
    ]
