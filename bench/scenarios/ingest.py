"""Signed 1 KB webhooks at maximum rate, each a new event.

The gateway against the verify-only handler (aiohttp + `standardwebhooks`, 202: what the
target is measured against) and the bare handler (204: the least aiohttp can do for the same
requests), all three up side by side and measured in interleaved rounds. The verify-only
handler and the gateway's Standard Webhooks integration get byte for byte the same signed
requests; the gateway's Hubster Direct integration (its main provider, whose body it parses
field by field) is measured beside them against the same baseline.

`redelivery` (`run_redelivery`) is the same comparison with one signed webhook sent again
and again: the gateway verifies it and finds it already stored.
"""

from __future__ import annotations

from typing import Any

from bench.context import Context, cpu_note
from bench.gateway_api import BenchIntegration
from bench.loadgen.jobs import IngestJob
from bench.procs import Server
from bench.report import Figure, ScenarioResult, Target
from bench.rounds import ROUNDS, Side, take_turns
from bench.stats import rate

NEW_EVENTS_TARGET = Target(">=", 0.8)
REDELIVERY_TARGET = Target(">=", 0.9)
STORED = ("gateway_events_stored_total", "gateway_duplicates_total")
"""What the gateway counted: new events stored, redeliveries dropped."""
SECRET_ENV = "BENCH_WEBHOOK_SECRET"  # noqa: S105 (the variable's name, not a secret)


async def run(ctx: Context) -> ScenarioResult:
    return await _compare(ctx, "ingest", repeat=False, target=NEW_EVENTS_TARGET)


async def run_redelivery(ctx: Context) -> ScenarioResult:
    return await _compare(ctx, "redelivery", repeat=True, target=REDELIVERY_TARGET)


def _job(ctx: Context, integration: BenchIntegration, server: Server, repeat: bool) -> IngestJob:
    return IngestJob(
        **integration.webhook_fields(server),
        duration=ctx.options.duration / ROUNDS,
        concurrency=ctx.options.concurrency,
        repeat=repeat,
        raw_latencies=True,
    )


async def _compare(ctx: Context, name: str, repeat: bool, target: Target) -> ScenarioResult:
    async with ctx.gateway(name) as (server, api):
        standard = await api.standard_integration()
        hubster = await api.hubster_integration()
        verify_env = {SECRET_ENV: standard.secret}
        async with ctx.server("verify", verify_env) as verify, ctx.server("bare") as bare:
            job = _job(ctx, standard, server, repeat)
            sides = [
                Side(f"{name}: gateway, standard", job, server),
                Side(f"{name}: verify-only handler", _elsewhere(job, verify), verify),
                Side(f"{name}: gateway, hubster", _job(ctx, hubster, server, repeat), server),
                Side(f"{name}: bare handler", _elsewhere(job, bare), bare),
            ]
            before = await api.counters(*STORED)
            gateway, baseline, gateway_hubster, plain = await take_turns(ctx, sides, job.duration)
            after = await api.counters(*STORED)
    if not repeat:
        ctx.max_ingest_rate = requests_per_second(gateway_hubster)
    return ScenarioResult(
        name,
        figures=figures(gateway, baseline, gateway_hubster, plain, target),
        notes=[
            "gateway: " + ", ".join(f"{after[key] - before[key]:.0f} {key}" for key in STORED),
            *notes(gateway, baseline, gateway_hubster, plain),
        ],
    )


def _elsewhere(job: IngestJob, server: Server) -> IngestJob:
    return job.model_copy(update={"host": server.host, "port": server.port, "path": "/webhook"})


def requests_per_second(result: dict[str, Any]) -> float:
    return rate(result["ok"], result["seconds"])


def figures(
    gateway: dict[str, Any],
    baseline: dict[str, Any],
    gateway_hubster: dict[str, Any],
    plain: dict[str, Any],
    target: Target,
) -> list[Figure]:
    cpu = max(side["cpuPercent"] for side in (gateway, baseline, gateway_hubster, plain))
    rps = requests_per_second
    return [
        Figure("requests/s", rps(gateway), "req/s", rps(baseline), target, cpu),
        Figure("requests/s, hubster", rps(gateway_hubster), "req/s", rps(baseline), target, cpu),
        Figure("requests/s vs bare 204", rps(gateway), "req/s", rps(plain), None, cpu),
        Figure("p50", gateway["latency"]["p50"], "ms", baseline["latency"]["p50"], None, cpu),
        Figure("p99", gateway["latency"]["p99"], "ms", baseline["latency"]["p99"], None, cpu),
        Figure("errors", gateway["errors"], "req", baseline["errors"], None, cpu),
    ]


def notes(
    gateway: dict[str, Any],
    baseline: dict[str, Any],
    gateway_hubster: dict[str, Any],
    plain: dict[str, Any],
) -> list[str]:
    return [
        f"gateway answers by status: standard {gateway['statuses']}, "
        f"hubster {gateway_hubster['statuses']}; {ROUNDS} interleaved rounds",
        cpu_note("gateway, standard", gateway, gateway["ok"]),
        cpu_note("gateway, hubster", gateway_hubster, gateway_hubster["ok"]),
        cpu_note("verify-only handler", baseline, baseline["ok"]),
        cpu_note("bare handler", plain, plain["ok"]),
    ]
