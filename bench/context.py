"""What every scenario gets: the options, the progress bar, and helpers to start processes."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bench.gateway_api import GatewayApi
from bench.generator import OnReady, run_generator
from bench.procs import (
    Server,
    gateway_command,
    gateway_env,
    module_command,
    new_credentials,
    running,
)
from bench.progress import Progress
from bench.redis_proc import redis_server
from bench.server_cpu import CpuSampler

SETUP_SECONDS = 2.0
"""Roughly what a generator spends opening connections before its timed window."""


@dataclass(frozen=True, slots=True)
class Options:
    duration: float = 10.0
    sessions: int = 1000
    concurrency: int = 32
    engine: str = "memory"
    profile_dir: Path | None = None
    workers: int = 1
    """`serve --workers N` (Redis only): the server's CPU is then all its processes'."""
    """When set, each gateway runs under pyinstrument and leaves DIR/<label>.txt."""


@dataclass
class Context:
    options: Options
    progress: Progress
    max_ingest_rate: float | None = None
    """Requests/s the gateway took in the `ingest` run, when it ran before `e2e`."""
    redis_pids: dict[int, int] = field(default_factory=dict)
    """Gateway pid -> the pid of its redis-server, sampled beside it."""

    @contextlib.asynccontextmanager
    async def gateway(self, label: str) -> AsyncIterator[tuple[Server, GatewayApi]]:
        """A fresh gateway process (profiled to `<profile_dir>/<label>.txt` when asked) and
        an admin client for it."""
        credentials = new_credentials()
        profile_dir = self.options.profile_dir
        profile_to = profile_dir / f"{label}.txt" if profile_dir else None
        command = gateway_command(profile_to, self.options.workers)
        async with contextlib.AsyncExitStack() as stack:
            env = gateway_env(credentials)
            redis = None
            if self.options.engine == "redis":
                redis = await stack.enter_async_context(redis_server())
                env["GATEWAY_REDIS_URL"] = redis.url
                env["GATEWAY_MASTER_KEYS"] = secrets.token_urlsafe(32)  # Redis requires one
            server = await stack.enter_async_context(running(command, env))
            if redis is not None:
                self.redis_pids[server.pid] = redis.pid
                stack.callback(self.redis_pids.pop, server.pid)
            api = await stack.enter_async_context(
                GatewayApi(server.base_url, credentials.admin_key)
            )
            yield server, api

    @contextlib.asynccontextmanager
    async def server(self, name: str) -> AsyncIterator[Server]:
        """A baseline server (or the sink) in its own process."""
        async with running(module_command("bench.servers", name)) as server:
            yield server

    async def measure(
        self,
        label: str,
        job: BaseModel,
        seconds: float,
        server: Server,
        on_ready: OnReady | None = None,
    ) -> dict[str, Any]:
        """Run `job` in a generator process with a progress bar over `seconds`; add the
        `server`'s CPU over the generator's timed window as `serverCpuPercent` (and the
        gateway's redis-server's as `redisCpuPercent` when it has one)."""
        async with (
            self.progress.phase(label, seconds + SETUP_SECONDS),
            CpuSampler(server.pid, self.redis_pids.get(server.pid)).sampling() as sampler,
        ):
            result = await run_generator(job, on_ready)
        window = result.get("window")
        usage = sampler.percent(*window) if window else None
        if usage is not None:
            result["serverCpuPercent"], result["machineCpuPercent"] = usage.server, usage.machine
            if usage.redis is not None:
                result["redisCpuPercent"] = usage.redis
        return result


def cpu_note(label: str, result: dict[str, Any], handled: int | None = None) -> str:
    """`label: CPU server N%, generator M%, redis R%, rest of machine K%` (each % of one
    core; the rest is other processes and interrupt work such as loopback networking), and
    the server's CPU per request when `handled` says how many it served in the window."""
    server, generator = result.get("serverCpuPercent"), result.get("cpuPercent")
    machine, redis = result.get("machineCpuPercent"), result.get("redisCpuPercent")
    parts = [
        f"{name} {value:.0f}%"
        for name, value in (("server", server), ("generator", generator), ("redis", redis))
        if value is not None
    ]
    if server is not None and generator is not None and machine is not None:
        rest = machine - server - generator - (redis or 0.0)
        parts.append(f"rest of machine {max(0.0, rest):.0f}%")
    if server is not None and handled:
        per_request_us = server / 100 * float(result["windowSeconds"]) / handled * 1e6
        parts.append(f"server CPU per request {per_request_us:.0f} us")
    return f"{label}: CPU (% of one core) " + (", ".join(parts) or "not measured")
