"""The arithmetic and verdicts the bench prints: percentiles, ratios, targets, VOID."""

from __future__ import annotations

import math

from bench.report import Figure, ScenarioResult, Target, table
from bench.stats import LatencySummary, percentile, ratio


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0
    assert math.isnan(percentile([], 0.5))


def test_latency_summary_sorts_its_input() -> None:
    summary = LatencySummary.of([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (summary.p50, summary.p99, summary.count) == (3.0, 5.0, 5)


def test_ratio_is_none_without_a_usable_baseline() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(3.0, 0.0) is None
    assert ratio(3.0, None) is None
    assert ratio(math.nan, 2.0) is None


def test_verdicts_follow_the_target_direction() -> None:
    throughput = Target(">=", 0.5)
    assert Figure("rps", 60.0, "req/s", 100.0, throughput).verdict == "pass"
    assert Figure("rps", 40.0, "req/s", 100.0, throughput).verdict == "MISS"
    memory = Target("<=", 1.5)
    assert Figure("mem", 10.0, "KiB", 8.0, memory).verdict == "pass"
    assert Figure("mem", 13.0, "KiB", 8.0, memory).verdict == "MISS"
    tail = Target("<=", 3.0, on_value=True)
    assert Figure("p99/p50", 2.5, "x", 100.0, tail).verdict == "pass"


def test_a_busy_generator_voids_the_figure() -> None:
    figure = Figure("rps", 60.0, "req/s", 100.0, Target(">=", 0.5), generator_cpu=95.0)
    assert figure.void and figure.verdict == "VOID"
    assert figure.to_json()["void"] is True
    assert not Figure("rps", 60.0, "req/s", 100.0, generator_cpu=89.0).void


def test_table_lists_figures_and_skips() -> None:
    ok = ScenarioResult("ingest", figures=[Figure("requests/s", 2000.0, "req/s", 8000.0)])
    skipped = ScenarioResult("fanout", "skipped", "feature not in this build")
    text = table([ok, skipped])
    assert "2,000 req/s" in text and "0.25" in text
    assert "skipped: feature not in this build" in text
