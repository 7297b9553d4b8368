"""Jobs the parent hands the generator (one JSON line on stdin) and what comes back."""

from __future__ import annotations

import os
import time
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from bench.payloads import Provider, WebhookTarget


class _Job(BaseModel):
    host: str
    port: int
    path: str = "/"
    hub_id: str = "bench-hub"
    secret: str = "0" * 32
    provider: Provider = "hubster"
    text_bytes: int | None = None
    """The message text's length (marker included); None: bodies of 1 KB."""
    duration: float = 10.0
    raw_latencies: bool = False
    """Also return every latency (`latenciesMs`), so rounds can be merged exactly."""

    def webhook_target(self) -> WebhookTarget:
        return WebhookTarget(
            self.host,
            self.port,
            self.path,
            self.hub_id,
            self.secret,
            self.provider,
            self.text_bytes,
        )


class SessionJob(_Job):
    """A job that opens websocket sessions (to /ws on the gateway or a baseline)."""

    ws_path: str = "/ws"
    ws_headers: dict[str, str] = {}
    sessions: int = 1
    connect_concurrency: int = 50


class IngestJob(_Job):
    """Closed loop: `concurrency` connections, each sending its next request on an answer;
    with `repeat`, every request is the same signed webhook (a provider redelivering)."""

    kind: Literal["ingest"] = "ingest"
    concurrency: int = 32
    repeat: bool = False


class OpenLoopJob(SessionJob):
    """Open model: requests at a fixed `rate`, latency to the frame from the SCHEDULED time."""

    kind: Literal["open"] = "open"
    rate: float
    max_connections: int = 256
    drain_seconds: float = 5.0


class SessionsJob(SessionJob):
    """Open `sessions`, report `ready`, then run each `FanoutPhase` the parent sends on the
    same sessions (none for an idle hold) until it says stop."""

    kind: Literal["sessions"] = "sessions"


class FanoutPhase(BaseModel):
    """`publishers` connections each publishing one webhook at a time (the next once the
    answer came), at most `window` events in flight (sent, not yet received by every
    session) among them; at `rate` events/s in all when set (open model, latency from the
    scheduled time), else as fast as the window allows."""

    publishers: int = 1
    window: int = 8
    duration: float = 3.0
    rate: float | None = None
    event_timeout_seconds: float = 10.0
    raw_latencies: bool = False


class ClientLoopJob(_Job):
    """aiohttp ClientSession POSTs with `concurrency` workers: the raw delivery baseline."""

    kind: Literal["client_loop"] = "client_loop"
    concurrency: int = 32


Job = Annotated[IngestJob | OpenLoopJob | SessionsJob | ClientLoopJob, Field(discriminator="kind")]
JOB: TypeAdapter[Job] = TypeAdapter(Job)


class CpuMeter:
    """This process's CPU use (user + system) over the timed window, as % of one core, and
    the window itself in epoch seconds (so the parent can measure the server over it too)."""

    def __init__(self) -> None:
        self._cpu = self._started = 0.0

    def start(self) -> None:
        times = os.times()
        self._cpu, self._started = times.user + times.system, time.time()

    def report(self) -> dict[str, float | list[float]]:
        """`cpuPercent`, `window` ([start, end] epoch seconds) and `windowSeconds`."""
        times = os.times()
        ended = time.time()
        wall = ended - self._started
        cpu = 100.0 * (times.user + times.system - self._cpu) / wall if wall > 0 else 0.0
        return {"cpuPercent": cpu, "window": [self._started, ended], "windowSeconds": wall}
