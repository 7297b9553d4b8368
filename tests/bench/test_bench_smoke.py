"""Every scenario through `python -m bench --json`, about a second each.

Structure only: each figure carries a value, a ratio and a verdict, or the scenario says it
was skipped because this build lacks its feature. Never a speed assertion.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = (
    "signing",
    "ingest",
    "redelivery",
    "fanout",
    "fanout-sweep",
    "e2e",
    "delivery",
    "idle",
)
FIGURE_FIELDS = {"value", "unit", "baseline", "ratio", "target", "verdict", "void"}
FIGURE_FIELDS |= {"generatorCpuPercent"}


def bench(*args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    options = ["--duration", "1", "--sessions", "20", "--concurrency", "4", "--json", str(path)]
    options += ["--sweep-sessions", "10,20", "--sweep-publishers", "1,4", "--sweep-seconds", "0.5"]
    finished = bench(*SCENARIOS, *options)
    assert finished.returncode == 0, finished.stderr[-3000:] + finished.stdout[-3000:]
    document: dict[str, Any] = json.loads(path.read_text())
    document["stdout"] = finished.stdout
    return document


@pytest.mark.timeout(180)
def test_every_scenario_reports_figures_with_ratios_or_is_skipped(report: dict[str, Any]) -> None:
    assert set(report["scenarios"]) == set(SCENARIOS)
    for name, scenario in report["scenarios"].items():
        if scenario["status"] == "skipped":
            assert scenario["skipped"] is True
            assert "feature not in this build" in scenario["reason"]
            continue
        assert scenario["status"] == "ok", (name, scenario["reason"])
        assert scenario["figures"], name
        for figure_name, figure in scenario["figures"].items():
            assert set(figure) >= FIGURE_FIELDS, (name, figure_name)
            assert figure["verdict"] in {"pass", "MISS", "VOID", "n/a", "-"}
            assert figure["void"] is (figure["verdict"] == "VOID")


def test_targets_are_attached_to_the_headline_figures(report: dict[str, Any]) -> None:
    headline = {
        "ingest": "requests/s",
        "redelivery": "requests/s",
        "fanout": "frames/s",
        "fanout-sweep": "10 x 1 frames/s",
        "delivery": "deliveries/s",
        "idle": "memory/session",
        "e2e": "p99/p50",
    }
    for name, figure_name in headline.items():
        scenario = report["scenarios"][name]
        if scenario["status"] == "ok":
            assert scenario["figures"][figure_name]["target"] is not None, name


def test_fanout_counts_server_cpu_per_frame_beside_frames_per_second(
    report: dict[str, Any],
) -> None:
    """Valid whatever the generator does: never voided by its CPU."""
    for name, figure_name in (("fanout", "CPU/frame"), ("fanout-sweep", "20 x 4 CPU/frame")):
        figure = report["scenarios"][name]["figures"][figure_name]
        assert figure["value"] > 0 and figure["baseline"] > 0, (name, figure)
        assert figure["target"] == "ratio <= 1" and not figure["void"]


def test_the_loop_is_recorded(report: dict[str, Any]) -> None:
    assert report["options"]["loop"] in {"asyncio", "uvloop"}


@pytest.mark.timeout(120)
def test_on_asyncio_the_gateway_and_the_baselines_all_run_on_it(tmp_path: Path) -> None:
    """`--loop asyncio`: every server started must name asyncio as its loop (the bench
    refuses one that names another), so a run with uvloop installed still compares the two
    sides on asyncio's own loop."""
    path = tmp_path / "bench.json"
    options = ["--loop", "asyncio", "--duration", "0.5", "--sessions", "5", "--json", str(path)]
    finished = bench("ingest", "fanout", *options)
    assert finished.returncode == 0, finished.stderr[-3000:] + finished.stdout[-3000:]
    document = json.loads(path.read_text())
    assert document["options"]["loop"] == "asyncio"
    for name in ("ingest", "fanout"):
        assert document["scenarios"][name]["status"] == "ok", document["scenarios"][name]


def test_signing_compares_standard_v1_with_the_reference_library(report: dict[str, Any]) -> None:
    figures = report["scenarios"]["signing"]["figures"]
    assert figures["standard v1 verify"]["ratio"] > 0
    assert {"hubster verify", "twilio verify", "basic verify", "bearer verify"} <= set(figures)


def test_the_table_names_every_scenario(report: dict[str, Any]) -> None:
    header = report["stdout"].splitlines()[0].split()
    assert header[:3] == ["scenario", "figure", "value"]
    for name in SCENARIOS:
        assert name in report["stdout"]
    assert report["machine"]["nproc"] >= 1


def test_unknown_scenario_is_a_usage_error_even_after_options() -> None:
    finished = bench("--duration", "1", "no-such-scenario", timeout=30)
    assert finished.returncode == 2
    assert "unknown scenario" in finished.stderr


def test_redis_engine_is_used_or_its_absence_reported_with_exit_2() -> None:
    finished = bench("signing", "--engine", "redis", "--duration", "1", timeout=60)
    if finished.returncode == 2:
        assert "--engine redis cannot run" in finished.stderr
        assert "Redis" in finished.stderr
    else:
        assert finished.returncode == 0, finished.stderr[-2000:]
        assert "signing" in finished.stdout


def test_workers_need_the_redis_engine() -> None:
    finished = bench("ingest", "--workers", "2", "--duration", "1", timeout=30)
    assert finished.returncode == 2
    assert "--workers above 1 needs --engine redis" in finished.stderr


@pytest.mark.timeout(180)
def test_ingest_and_fanout_run_on_two_workers_sharing_redis(tmp_path: Path) -> None:
    """The gateway under test is a supervisor and two workers: both take part (the server
    CPU is the whole process tree's), beside the redis-server's own CPU."""
    path = tmp_path / "bench.json"
    options = ["--duration", "1", "--sessions", "20", "--concurrency", "4", "--json", str(path)]
    finished = bench("ingest", "fanout", "--engine", "redis", "--workers", "2", *options)
    assert finished.returncode == 0, finished.stderr[-3000:] + finished.stdout[-3000:]
    document = json.loads(path.read_text())
    assert document["options"]["workers"] == 2
    assert document["options"]["engine"] == "redis"
    for name in ("ingest", "fanout"):
        scenario = document["scenarios"][name]
        assert scenario["status"] == "ok", scenario
        gateway_note = next(
            note for note in scenario["notes"] if note.startswith("gateway") and ": CPU" in note
        )
        assert "redis" in gateway_note, gateway_note
