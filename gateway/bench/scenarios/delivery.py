"""Events delivered to a local sink subscriber vs an aiohttp ClientSession POST loop with the
same concurrency to the same sink (the sink is its own process, shared by both runs).

The gateway's deliveries are driven by webhooks sent at maximum rate; the rate is counted at
the sink, from its first arrival to its last, so deliveries that trail the webhooks count.
"""

from __future__ import annotations

from typing import Any

from gateway.bench import sink_client
from gateway.bench.context import Context, cpu_note
from gateway.bench.loadgen.jobs import ClientLoopJob, IngestJob
from gateway.bench.report import Figure, ScenarioResult, Target

TARGET = Target(">=", 0.5)
SINK_PATH = "/deliveries"


async def run(ctx: Context) -> ScenarioResult:
    options = ctx.options
    async with ctx.server("sink") as sink:
        sink_url = sink.base_url + SINK_PATH
        async with ctx.gateway("delivery") as (server, api):
            integration_id, hub_id, private_key = await api.hubster_integration()
            await api.subscriber(sink_url)
            await sink_client.reset(sink.base_url)
            job = IngestJob(
                host=server.host,
                port=server.port,
                path=f"/webhooks/{integration_id}",
                hub_id=hub_id,
                private_key=private_key,
                duration=options.duration,
                concurrency=options.concurrency,
            )
            load = await ctx.measure("delivery: gateway", job, options.duration, server)
            async with ctx.progress.phase("delivery: draining", options.duration):
                gateway = await sink_client.drained(
                    sink.base_url, load["ok"], 3 * options.duration + 10
                )
        await sink_client.reset(sink.base_url)
        loop = ClientLoopJob(
            host=sink.host,
            port=sink.port,
            path=SINK_PATH,
            duration=options.duration,
            concurrency=options.concurrency,
        )
        client = await ctx.measure("delivery: raw client loop", loop, options.duration, sink)
        baseline = await sink_client.arrivals(sink.base_url)
    return ScenarioResult(
        "delivery",
        figures=figures(gateway, baseline, load["cpuPercent"]),
        notes=notes(load, gateway, client),
    )


def figures(gateway: dict[str, Any], baseline: dict[str, Any], cpu: float) -> list[Figure]:
    rate = sink_client.deliveries_per_second
    return [
        Figure("deliveries/s", rate(gateway), "del/s", rate(baseline), TARGET, cpu),
        Figure("p50", gateway["latency"]["p50"], "ms", baseline["latency"]["p50"], None, cpu),
        Figure("p99", gateway["latency"]["p99"], "ms", baseline["latency"]["p99"], None, cpu),
    ]


def notes(load: dict[str, Any], gateway: dict[str, Any], client: dict[str, Any]) -> list[str]:
    return [
        f"gateway accepted {load['ok']} webhooks ({load['errors']} errors) in "
        f"{load['seconds']:.1f} s; the sink got {gateway['count']} deliveries",
        "gateway latency runs from the webhook's send to the delivery's arrival (queueing "
        "included); the baseline's from the POST's send",
        f"raw client loop: {client['ok']} POSTs; its CPU does not void the figure (it is "
        "the subject here, not the load)",
        cpu_note("gateway (server = gateway)", load),
        cpu_note("raw client loop (server = sink)", client),
    ]
