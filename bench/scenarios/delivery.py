"""Events delivered to a local sink subscriber vs an aiohttp ClientSession POST loop to the
same sink (its own process) with the same concurrency: as many connections as the gateway
was seen to use.

Four runs. Delivery alone: webhooks are stored first, then a new subscriber gets them all by
replay, so delivery does not share the core with ingest (the target's figure). End to end:
webhooks at maximum rate (closed loop) with the subscriber in place, webhooks in and
deliveries out of the one process, deliveries counted at the sink over the same window.
Latency: a fresh stream of webhooks at half that end-to-end rate (open model), webhook
scheduled send to arrival at the sink. Baseline: the raw client loop at maximum rate.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bench import sink_client
from bench.context import Context, cpu_note
from bench.gateway_api import GatewayApi
from bench.loadgen.jobs import ClientLoopJob, IngestJob, OpenLoopJob
from bench.procs import Server
from bench.report import Figure, ScenarioResult, Target
from bench.scenarios.ingest import requests_per_second
from bench.sink_client import deliveries_per_second
from bench.stats import rate

TARGET = Target(">=", 0.7)
SINK_PATH = "/deliveries"
LOAD_FRACTION = 0.5
DRAIN_SECONDS = 60.0


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def run(ctx: Context) -> ScenarioResult:
    options = ctx.options
    async with ctx.server("sink") as sink:
        async with ctx.gateway("delivery") as (server, api):
            integration = await api.hubster_integration()
            webhook = IngestJob(
                **integration.webhook_fields(server),
                duration=options.duration,
                concurrency=options.concurrency,
            )
            stored, enqueued, replayed = await _replayed(ctx, api, server, sink, webhook)
            both = await _end_to_end(ctx, server, sink, webhook)
            live = await _live(ctx, server, sink, webhook, both["deliveriesPerSecond"])
        await sink_client.reset(sink.base_url)
        loop = ClientLoopJob(
            host=sink.host,
            port=sink.port,
            path=SINK_PATH,
            duration=options.duration,
            concurrency=max(1, replayed["connections"]),
        )
        client = await ctx.measure("delivery: raw client loop", loop, options.duration, sink)
        baseline = await sink_client.arrivals(sink.base_url)
    cpu = max(stored["cpuPercent"], both["cpuPercent"], live["sent"]["cpuPercent"])
    return ScenarioResult(
        "delivery",
        figures=figures(replayed, both, live, baseline, cpu),
        notes=notes(stored, enqueued, replayed, both, live, client),
    )


async def _replayed(
    ctx: Context, api: GatewayApi, server: Server, sink: Server, webhook: IngestJob
) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """Store webhooks with no subscriber, then replay them all to a new one: (the storing
    generator's result, how many were enqueued, the sink's arrivals)."""
    since = _rfc3339(datetime.now(UTC) - timedelta(seconds=1))
    stored = await ctx.measure("delivery: storing webhooks", webhook, webhook.duration, server)
    subscriber_id = await api.subscriber(sink.base_url + SINK_PATH)
    await sink_client.reset(sink.base_url)
    async with ctx.progress.phase("delivery: replay to the sink", webhook.duration):
        enqueued = await api.replay(subscriber_id, since)
        replayed = await sink_client.drained(sink.base_url, enqueued, DRAIN_SECONDS)
    return stored, enqueued, replayed


async def _end_to_end(
    ctx: Context, server: Server, sink: Server, webhook: IngestJob
) -> dict[str, Any]:
    """Webhooks at maximum rate while the subscriber (from the replay) gets each: the
    generator's result, with the sink's arrivals over its window and in all once drained."""
    await sink_client.reset(sink.base_url)
    sent = await ctx.measure("delivery: end to end", webhook, webhook.duration, server)
    in_window = await sink_client.arrivals(sink.base_url)
    drained = await sink_client.drained(sink.base_url, sent["ok"], DRAIN_SECONDS)
    return {
        **sent,
        "deliveriesPerSecond": rate(in_window["count"], sent["windowSeconds"]),
        "delivered": drained["count"],
    }


async def _live(
    ctx: Context, server: Server, sink: Server, webhook: IngestJob, capacity: float
) -> dict[str, Any]:
    """Sink arrivals for webhooks sent at half the end-to-end capacity, from their
    scheduled time."""
    await sink_client.reset(sink.base_url)
    job = OpenLoopJob(
        **webhook.model_dump(exclude={"kind", "concurrency"}),
        rate=max(1.0, LOAD_FRACTION * capacity),
        sessions=0,
    )
    label = f"delivery: live @ {job.rate:.0f}/s"
    sent = await ctx.measure(label, job, job.duration, server)
    arrived = await sink_client.drained(sink.base_url, sent["ok"], DRAIN_SECONDS)
    return {**arrived, "rate": job.rate, "sent": sent}


def figures(
    replayed: dict[str, Any],
    both: dict[str, Any],
    live: dict[str, Any],
    baseline: dict[str, Any],
    cpu: float,
) -> list[Figure]:
    per_second = deliveries_per_second
    return [
        Figure("deliveries/s", per_second(replayed), "del/s", per_second(baseline), TARGET, cpu),
        Figure(
            "end to end deliveries/s",
            both["deliveriesPerSecond"],
            "del/s",
            per_second(baseline),
            None,
            cpu,
        ),
        Figure("end to end webhooks/s", requests_per_second(both), "req/s", None, None, cpu),
        Figure("p50", live["latency"]["p50"], "ms", baseline["latency"]["p50"], None, cpu),
        Figure("p99", live["latency"]["p99"], "ms", baseline["latency"]["p99"], None, cpu),
    ]


def notes(
    stored: dict[str, Any],
    enqueued: int,
    replayed: dict[str, Any],
    both: dict[str, Any],
    live: dict[str, Any],
    client: dict[str, Any],
) -> list[str]:
    sent = live["sent"]
    return [
        f"stored {stored['ok']} webhooks; replay enqueued {enqueued}; the sink got "
        f"{replayed['count']} over {replayed['connections']} connections",
        f"end to end: {both['ok']} webhooks taken in, {both['delivered']} delivered once "
        "drained; deliveries/s counts those that arrived within the webhooks' window",
        cpu_note("end to end (server = gateway)", both, both["ok"]),
        f"latency run: {sent['ok']} webhooks at {live['rate']:.0f}/s (open model), "
        f"{live['count']} delivered; gateway latency is webhook scheduled send -> arrival, "
        "the baseline's is POST send -> arrival",
        f"raw client loop: {client['ok']} POSTs over {replayed['connections']} connections; its "
        "CPU does not void the figure (it is the subject here, not the load)",
        cpu_note("storing webhooks (server = gateway)", stored, stored["ok"]),
        cpu_note("raw client loop (server = sink)", client),
    ]
