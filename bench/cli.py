"""`python -m bench [SCENARIO ...] [--json PATH] [--duration S] [--loop asyncio|uvloop]
[--engine memory|redis] [--workers N] [--sessions N] [--concurrency N]
[--sweep-sessions N,N,...] [--sweep-publishers N,N,...] [--sweep-seconds S] [--profile DIR]`:
run scenarios, print the table, optionally write JSON.

Exit status: 0 when every selected scenario ran or was skipped for a missing feature,
1 when one failed, 2 for a usage error or an engine this build does not have.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import traceback
from pathlib import Path

import orjson

from bench.context import Context, Options
from bench.gateway_api import FeatureMissing, SetupFailed
from bench.generator import GeneratorFailed
from bench.loops import FASTEST, LOOPS, UVLOOP
from bench.procs import StartFailed
from bench.progress import Progress
from bench.report import ScenarioResult, machine, table
from bench.scenarios import SCENARIOS
from bench.server_cpu import machine_busy_percent

EXIT_FAILED = 1
EXIT_USAGE = 2
SKIPPED_REASON = "feature not in this build"


BUSY_WARNING_PERCENT = 30.0


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of counts: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"counts must be 1 or more: {text!r}")
    return counts


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"any of {', '.join(SCENARIOS)} (all)"
    )
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run (10)")
    parser.add_argument("--engine", choices=("memory", "redis"), default="memory")
    parser.add_argument(
        "--loop",
        choices=LOOPS,
        default=FASTEST,
        help=f"event loop of the gateway and every baseline ({FASTEST}: the fastest installed)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="gateway worker processes (`serve --workers N`; above 1 needs --engine redis)",
    )
    parser.add_argument("--sessions", type=int, default=500, help="agent sessions (500)")
    parser.add_argument("--concurrency", type=int, default=32, help="connections (32)")
    parser.add_argument(
        "--sweep-sessions",
        type=_counts,
        default=(100, 1000, 5000),
        help="fanout-sweep's session counts (100,1000,5000)",
    )
    parser.add_argument(
        "--sweep-publishers",
        type=_counts,
        default=(1, 8, 64),
        help="fanout-sweep's concurrent publishers (1,8,64)",
    )
    parser.add_argument(
        "--sweep-seconds", type=float, default=2.0, help="fanout-sweep: seconds per point (2)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run each gateway under pyinstrument; text reports go to DIR/<scenario>.txt "
        "(the profiler slows the gateway: quote figures from runs without it)",
    )
    return parser


async def _engine_problem(options: Options) -> str | None:
    """Why the gateway cannot start with the chosen engine, or None: asked of the gateway
    itself, so a build that gains a Redis engine is benchmarked with it unchanged."""
    try:
        async with Context(options, Progress()).gateway("engine-check"):
            return None
    except StartFailed as exc:
        return str(exc)


async def _run_one(name: str, ctx: Context) -> ScenarioResult:
    ctx.progress.note(f"{name}:")
    try:
        return await SCENARIOS[name](ctx)
    except FeatureMissing as exc:
        return ScenarioResult(name, "skipped", f"{SKIPPED_REASON}: {exc}")
    except (StartFailed, SetupFailed, GeneratorFailed) as exc:
        return ScenarioResult(name, "error", str(exc))
    except Exception as exc:  # one broken scenario must not cost the others their run
        traceback.print_exc(file=sys.stderr)
        return ScenarioResult(name, "error", f"{type(exc).__name__}: {exc}")


async def _run_all(names: list[str], options: Options) -> tuple[float, list[ScenarioResult]]:
    """(how busy the machine was before we started, the results)."""
    ctx = Context(options, Progress())
    busy = await machine_busy_percent()
    if busy > BUSY_WARNING_PERCENT:
        ctx.progress.note(
            f"warning: other processes keep {busy:.0f}% of a core busy; "
            "every figure will be disturbed (ratios less so: both sides share the disturbance)"
        )
    return busy, [await _run_one(name, ctx) for name in names]


def _write_json(path: Path, options: Options, busy: float, results: list[ScenarioResult]) -> None:
    document = {
        "machine": {**machine(), "busyBeforePercent": round(busy, 1)},
        "options": {
            "duration": options.duration,
            "sessions": options.sessions,
            "concurrency": options.concurrency,
            "engine": options.engine,
            "workers": options.workers,
            "loop": options.loop,
            "sweepSessions": list(options.sweep_sessions),
            "sweepPublishers": list(options.sweep_publishers),
            "sweepSeconds": options.sweep_seconds,
        },
        "scenarios": {result.name: result.to_json() for result in results},
    }
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")


def _workers_problem(args: argparse.Namespace) -> str | None:
    if args.workers < 1:
        return "--workers must be at least 1"
    if args.workers > 1 and args.engine != "redis":
        return "--workers above 1 needs --engine redis (workers share state through Redis)"
    if args.workers > 1 and args.profile:
        return "--profile follows one process: use it with --workers 1"
    return None


def main(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.print_usage(sys.stderr)
        print(f"unknown scenario: {', '.join(unknown)}", file=sys.stderr)
        return EXIT_USAGE
    problem = _workers_problem(args)
    if problem:
        parser.print_usage(sys.stderr)
        print(f"bench: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    if args.loop == UVLOOP and FASTEST != UVLOOP:
        print("bench: --loop uvloop: uvloop is not installed", file=sys.stderr)
        return EXIT_USAGE
    options = Options(
        duration=args.duration,
        sessions=args.sessions,
        concurrency=args.concurrency,
        engine=args.engine,
        profile_dir=args.profile,
        workers=args.workers,
        loop=args.loop,
        sweep_sessions=args.sweep_sessions,
        sweep_publishers=args.sweep_publishers,
        sweep_seconds=args.sweep_seconds,
    )
    if args.engine == "redis":
        problem = asyncio.run(_engine_problem(options))
        if problem is not None:
            print(f"bench: --engine redis cannot run: {problem}", file=sys.stderr)
            return EXIT_USAGE
    names = args.scenarios or list(SCENARIOS)
    busy, results = asyncio.run(_run_all(names, options))
    print(table(results))
    if args.json:
        _write_json(args.json, options, busy, results)
    return EXIT_FAILED if any(result.status == "error" for result in results) else 0
