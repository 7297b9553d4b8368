"""One module per scenario; each `run(ctx)` returns a ScenarioResult with its figures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gateway.bench.context import Context
from gateway.bench.report import ScenarioResult
from gateway.bench.scenarios import ingest

Scenario = Callable[[Context], Awaitable[ScenarioResult]]

SCENARIOS: dict[str, Scenario] = {
    "ingest": ingest.run,
}
