"""What every scenario gets: the options, the progress bar, and helpers to start processes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from gateway.bench.gateway_api import GatewayApi
from gateway.bench.generator import OnReady, run_generator
from gateway.bench.procs import (
    Server,
    gateway_command,
    gateway_env,
    module_command,
    new_credentials,
    running,
)
from gateway.bench.progress import Progress

SETUP_SECONDS = 2.0
"""Roughly what a generator spends opening connections before its timed window."""


@dataclass(frozen=True, slots=True)
class Options:
    duration: float = 10.0
    sessions: int = 1000
    concurrency: int = 32
    engine: str = "memory"


@dataclass
class Context:
    options: Options
    progress: Progress
    max_ingest_rate: float | None = None
    """Requests/s the gateway took in the `ingest` run, when it ran before `e2e`."""

    @contextlib.asynccontextmanager
    async def gateway(self) -> AsyncIterator[tuple[Server, GatewayApi]]:
        """A fresh gateway process and an admin client for it."""
        credentials = new_credentials()
        command = gateway_command(self.options.engine)
        async with (
            running(command, gateway_env(credentials)) as server,
            GatewayApi(server.base_url, credentials.admin_key) as api,
        ):
            yield server, api

    @contextlib.asynccontextmanager
    async def server(self, name: str) -> AsyncIterator[Server]:
        """A baseline server (or the sink) in its own process."""
        async with running(module_command("gateway.bench.servers", name)) as server:
            yield server

    async def measure(
        self, label: str, job: BaseModel, seconds: float, on_ready: OnReady | None = None
    ) -> dict[str, Any]:
        """Run `job` in a generator process with a progress bar over `seconds`."""
        async with self.progress.phase(label, seconds + SETUP_SECONDS):
            return await run_generator(job, on_ready)
