"""Interleaved rounds: the gateway and its baseline take turns in slices of the duration.

The machine is shared, so whatever else runs disturbs some seconds more than others; in
turns, both sides meet about the same disturbance instead of whichever ran at the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from bench.context import Context
from bench.generator import Generator
from bench.loadgen.jobs import FanoutPhase
from bench.procs import Server
from bench.stats import LatencySummary

ROUNDS = 3
COUNTS = ("ok", "errors", "sent", "received", "missing", "events", "frames", "lostFrames")


@dataclass(frozen=True, slots=True)
class Side:
    label: str
    job: BaseModel
    """A job with `duration` and `raw_latencies`, already set for one round."""
    server: Server


@dataclass(frozen=True, slots=True)
class HeldSide:
    """A generator holding sessions open on `server`, run phase by phase."""

    label: str
    generator: Generator
    server: Server


async def take_turns(ctx: Context, sides: list[Side], seconds: float) -> list[dict[str, Any]]:
    """Run each side's job `ROUNDS` times, in turns; one merged result per side."""
    runs: list[list[dict[str, Any]]] = [[] for _ in sides]
    for round_number in range(1, ROUNDS + 1):
        for side, results in zip(sides, runs, strict=True):
            label = f"{side.label} ({round_number}/{ROUNDS})"
            results.append(await ctx.measure(label, side.job, seconds, side.server))
    return [merged(results) for results in runs]


async def take_phase_turns(
    ctx: Context, sides: list[HeldSide], phase: FanoutPhase, rounds: int = ROUNDS
) -> list[dict[str, Any]]:
    """Run `phase` on each side `rounds` times, in turns; one merged result per side."""
    runs: list[list[dict[str, Any]]] = [[] for _ in sides]
    for round_number in range(1, rounds + 1):
        for side, results in zip(sides, runs, strict=True):
            label = f"{side.label} ({round_number}/{rounds})"
            step = ctx.measure_step(label, side.generator, phase, phase.duration, side.server)
            results.append(await step)
    return [merged(results) for results in runs]


def merged(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and seconds added, latencies pooled, CPU weighted by time (the generator's
    at its highest, for the VOID rule)."""
    seconds = sum(float(run["seconds"]) for run in runs)
    statuses: dict[str, int] = {}
    for run in runs:
        for status, count in run.get("statuses", {}).items():
            statuses[status] = statuses.get(status, 0) + count
    frames = sum(int(run.get("frames", 0)) for run in runs)
    frame_bytes = sum(float(run.get("frameBytes", 0)) * int(run.get("frames", 0)) for run in runs)

    def weighted(key: str) -> float | None:
        if seconds <= 0 or any(run.get(key) is None for run in runs):
            return None
        total = sum(float(run[key]) * float(run["seconds"]) for run in runs)
        return total / seconds

    latencies = [ms for run in runs for ms in run["latenciesMs"]]
    return {
        **{key: sum(run[key] for run in runs) for key in COUNTS if key in runs[0]},
        "statuses": statuses,
        **({"frameBytes": frame_bytes / frames} if frames else {}),
        "seconds": seconds,
        "windowSeconds": sum(float(run["windowSeconds"]) for run in runs),
        "latency": LatencySummary.of(latencies).to_json(),
        "cpuPercent": max(run["cpuPercent"] for run in runs),
        "serverCpuPercent": weighted("serverCpuPercent"),
        "machineCpuPercent": weighted("machineCpuPercent"),
        "redisCpuPercent": weighted("redisCpuPercent"),
        "rounds": len(runs),
    }
