"""One module per scenario; each `run(ctx)` returns a ScenarioResult with its figures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bench.context import Context
from bench.report import ScenarioResult
from bench.scenarios import delivery, e2e, fanout, idle, ingest, signing

Scenario = Callable[[Context], Awaitable[ScenarioResult]]

SCENARIOS: dict[str, Scenario] = {
    "signing": signing.run,
    "ingest": ingest.run,
    "redelivery": ingest.run_redelivery,
    "fanout": fanout.run,
    "fanout-sweep": fanout.run_sweep,
    "e2e": e2e.run,
    "delivery": delivery.run,
    "idle": idle.run,
}
