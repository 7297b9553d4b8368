"""Agent sessions each receiving every event, against a bare aiohttp broadcast (each event
encoded once, one `send_str` per socket) sending frames of the same length.

The default shape is an outside harness's: `--sessions` (500) sessions, one publisher
sending each webhook once the previous one was answered, at most 8 events in flight (sent,
not yet received by every session), 300 bytes of message text. The gateway's frame is
`{"type":"event","event":<the stored activity>}`, longer than the webhook it came from;
the broadcast's is `{"type":"event","event":<the posted body>}`, so the baseline's bodies
get as much more text as it takes for its frames to be as long as the gateway's (measured in
a warm-up, reported in the notes). Both sides hold their sessions open for the whole
scenario and take turns, phase by phase.

Figures: frames/s (VOID when the generator, receiving every frame, was the limit) and the
server's CPU per delivered frame (valid whatever the generator does); then the latency of
a frame at 10 events/s, where neither server is busy: the per-event path, not a queue.

`fanout-sweep` (`run_sweep`) repeats the comparison over sessions x concurrent publishers,
a short phase per point.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from bench.context import Context, cpu_note
from bench.gateway_api import GatewayApi
from bench.loadgen.jobs import FanoutPhase, SessionsJob
from bench.payloads import HubsterBodies, now_ms
from bench.procs import Server
from bench.report import Figure, ScenarioResult, Target
from bench.rounds import ROUNDS, HeldSide, take_phase_turns
from bench.stats import rate

TEXT_BYTES = 300
WINDOW = 8
PACED_RATE = 10.0
WARM_UP = FanoutPhase(duration=1.0)
FRAMES_TARGET = Target(">=", 1.0)
CPU_TARGET = Target("<=", 1.0)
"""The gateway's server CPU per delivered frame over the broadcast's."""
PACED_P99_TARGET = Target("<=", 1.3)
EVENT_FRAME_WRAPPER = len(b'{"type":"event","event":}')


async def run(ctx: Context) -> ScenarioResult:
    options = ctx.options
    async with held_pair(ctx, options.sessions) as (sides, sizes):
        slice_seconds = options.duration / ROUNDS
        loaded = FanoutPhase(window=WINDOW, duration=slice_seconds, raw_latencies=True)
        gateway, baseline = await take_phase_turns(ctx, sides, loaded)
        paced_phase = FanoutPhase(rate=PACED_RATE, duration=slice_seconds, raw_latencies=True)
        paced, paced_baseline = await take_phase_turns(ctx, sides, paced_phase)
    return ScenarioResult(
        "fanout",
        figures=[
            *throughput_figures("", gateway, baseline),
            Figure("p50", gateway["latency"]["p50"], "ms", baseline["latency"]["p50"]),
            Figure("p99", gateway["latency"]["p99"], "ms", baseline["latency"]["p99"]),
            *(
                Figure(
                    f"{quantile} at {PACED_RATE:g} events/s",
                    paced["latency"][quantile],
                    "ms",
                    paced_baseline["latency"][quantile],
                    target,
                    max(paced["cpuPercent"], paced_baseline["cpuPercent"]),
                )
                for quantile, target in (("p50", None), ("p99", PACED_P99_TARGET))
            ),
            Figure("lost frames", gateway["lostFrames"], "frames", baseline["lostFrames"]),
        ],
        notes=[
            *size_notes(options.sessions, sizes),
            f"loaded: 1 publisher, at most {WINDOW} events in flight; gateway "
            f"{gateway['events']} events, {gateway['errors']} errors; bare broadcast "
            f"{baseline['events']} events; {ROUNDS} interleaved rounds",
            cpu_note("gateway", gateway),
            cpu_note("bare broadcast", baseline),
            f"paced: {paced['events']} events at {PACED_RATE:g}/s on each side",
        ],
    )


async def run_sweep(ctx: Context) -> ScenarioResult:
    options = ctx.options
    figures: list[Figure] = []
    notes: list[str] = []
    for sessions in options.sweep_sessions:
        async with held_pair(ctx, sessions) as (sides, sizes):
            notes.extend(size_notes(sessions, sizes))
            for publishers in options.sweep_publishers:
                phase = FanoutPhase(
                    publishers=publishers,
                    window=max(WINDOW, publishers),
                    duration=options.sweep_seconds,
                    raw_latencies=True,
                )
                gateway, baseline = await take_phase_turns(ctx, sides, phase, rounds=1)
                point = f"{sessions} x {publishers}"
                figures.extend(throughput_figures(point + " ", gateway, baseline))
                notes.append(cpu_note(f"{point} gateway", gateway))
                notes.append(cpu_note(f"{point} bare broadcast", baseline))
    notes.append(
        f"each point: sessions x concurrent publishers, at most max({WINDOW}, publishers) "
        f"events in flight, {options.sweep_seconds:g} s per side"
    )
    return ScenarioResult("fanout-sweep", figures=figures, notes=notes)


@contextlib.asynccontextmanager
async def held_pair(
    ctx: Context, sessions: int
) -> AsyncIterator[tuple[list[HeldSide], tuple[float, float]]]:
    """A fresh gateway and broadcast, `sessions` sessions held on each, both warmed up:
    ([gateway side, broadcast side], (gateway frame bytes, broadcast frame bytes))."""
    async with ctx.gateway("fanout") as (server, api), ctx.server("broadcast") as bare:
        job = await _gateway_job(api, server, sessions)
        async with ctx.sessions(f"fanout: {sessions} gateway sessions", job) as gateway:
            label = "fanout: gateway warm-up"
            warm = await ctx.measure_step(label, gateway, WARM_UP, WARM_UP.duration, server)
            plain = job.model_copy(
                update={
                    "host": bare.host,
                    "port": bare.port,
                    "path": "/publish",
                    "ws_headers": {},
                    "text_bytes": matched_text_bytes(job, float(warm["frameBytes"])),
                }
            )
            async with ctx.sessions(f"fanout: {sessions} bare sessions", plain) as broadcast:
                label = "fanout: bare warm-up"
                warm_bare = await ctx.measure_step(
                    label, broadcast, WARM_UP, WARM_UP.duration, bare
                )
                sides = [
                    HeldSide(f"fanout {sessions}: gateway", gateway, server),
                    HeldSide(f"fanout {sessions}: bare broadcast", broadcast, bare),
                ]
                yield sides, (float(warm["frameBytes"]), float(warm_bare["frameBytes"]))


async def _gateway_job(api: GatewayApi, server: Server, sessions: int) -> SessionsJob:
    integration = await api.hubster_integration()
    token = await api.agent_token(integration.hub_id)
    await api.probe_websocket(token)
    return SessionsJob(
        **integration.webhook_fields(server),
        text_bytes=TEXT_BYTES,
        sessions=sessions,
        ws_headers={"Authorization": f"Bearer {token}"},
    )


def matched_text_bytes(job: SessionsJob, gateway_frame_bytes: float) -> int:
    """The message text that makes the broadcast's frame (its wrapper around the posted
    body) as long as the gateway's, for bodies like the gateway's otherwise."""
    body = HubsterBodies(job.hub_id, now_ms(), TEXT_BYTES).body(10_000, 0)
    return TEXT_BYTES + round(gateway_frame_bytes) - (EVENT_FRAME_WRAPPER + len(body))


def size_notes(sessions: int, sizes: tuple[float, float]) -> list[str]:
    gateway, bare = sizes
    return [f"{sessions} sessions: frames of {gateway:.0f} bytes (gateway), {bare:.0f} (bare)"]


def cpu_per_frame_us(result: dict[str, Any]) -> float | None:
    server, frames = result.get("serverCpuPercent"), result.get("frames")
    if server is None or not frames:
        return None
    return float(server) / 100 * float(result["windowSeconds"]) / int(frames) * 1e6


def frames_per_second(result: dict[str, Any]) -> float:
    return rate(result["frames"], result["seconds"])


def throughput_figures(
    prefix: str, gateway: dict[str, Any], baseline: dict[str, Any]
) -> list[Figure]:
    """frames/s (voided by a saturated generator) and server CPU per frame (never void)."""
    cpu = max(gateway["cpuPercent"], baseline["cpuPercent"])
    gateway_us, baseline_us = cpu_per_frame_us(gateway), cpu_per_frame_us(baseline)
    return [
        Figure(
            prefix + "frames/s",
            frames_per_second(gateway),
            "frames/s",
            frames_per_second(baseline),
            FRAMES_TARGET,
            cpu,
        ),
        Figure(prefix + "CPU/frame", gateway_us, "us", baseline_us, CPU_TARGET),
    ]
