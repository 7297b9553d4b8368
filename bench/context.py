"""What every scenario gets: the options, the progress bar, and helpers to start processes."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bench.gateway_api import GatewayApi
from bench.generator import Generator, generator, run_generator
from bench.loadgen.jobs import SessionsJob
from bench.loops import FASTEST
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
CONNECT_SECONDS_PER_1000 = 5.0


def connect_seconds(sessions: int) -> float:
    """Roughly how long opening `sessions` websocket sessions takes (for the progress bar)."""
    return SETUP_SECONDS + CONNECT_SECONDS_PER_1000 * sessions / 1000


@dataclass(frozen=True, slots=True)
class Options:
    duration: float = 10.0
    sessions: int = 1000
    concurrency: int = 32
    engine: str = "memory"
    profile_dir: Path | None = None
    """When set, each gateway runs under pyinstrument and leaves DIR/<label>.txt."""
    workers: int = 1
    """`serve --workers N` (Redis only): the server's CPU is then all its processes'."""
    loop: str = FASTEST
    """The event loop of the gateway and of every baseline (`asyncio` or `uvloop`)."""
    sweep_sessions: tuple[int, ...] = (100, 1000, 5000)
    sweep_publishers: tuple[int, ...] = (1, 8, 64)
    sweep_seconds: float = 2.0


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
            env = gateway_env(credentials, self.options.loop)
            redis = None
            if self.options.engine == "redis":
                redis = await stack.enter_async_context(redis_server())
                env["GATEWAY_REDIS_URL"] = redis.url
                env["GATEWAY_MASTER_KEYS"] = secrets.token_urlsafe(32)  # Redis requires one
            server = await stack.enter_async_context(running(command, env, self.options.loop))
            if redis is not None:
                self.redis_pids[server.pid] = redis.pid
                stack.callback(self.redis_pids.pop, server.pid)
            api = await stack.enter_async_context(
                GatewayApi(server.base_url, credentials.admin_key)
            )
            yield server, api

    @contextlib.asynccontextmanager
    async def server(self, name: str, env: dict[str, str] | None = None) -> AsyncIterator[Server]:
        """A baseline server (or the sink) in its own process, on the chosen loop."""
        command = module_command("bench.servers", name, "--loop", self.options.loop)
        async with running(command, env, self.options.loop) as server:
            yield server

    @contextlib.asynccontextmanager
    async def sessions(self, label: str, job: SessionsJob) -> AsyncIterator[Generator]:
        """A generator holding `job.sessions` sessions open, once they are all ready."""
        async with generator(job) as running:
            async with self.progress.phase(label, connect_seconds(job.sessions)):
                await running.report("ready")
            yield running

    async def measure(
        self, label: str, job: BaseModel, seconds: float, server: Server
    ) -> dict[str, Any]:
        """Run `job` in a generator process with a progress bar over `seconds`; add the
        `server`'s CPU over the generator's timed window as `serverCpuPercent` (and the
        gateway's redis-server's as `redisCpuPercent` when it has one)."""
        return await self._sampled(label, seconds + SETUP_SECONDS, server, run_generator(job))

    async def measure_step(
        self, label: str, generator: Generator, phase: BaseModel, seconds: float, server: Server
    ) -> dict[str, Any]:
        """`measure` for one phase of a generator holding its sessions open."""
        return await self._sampled(label, seconds, server, generator.step(phase))

    async def _sampled(
        self, label: str, seconds: float, server: Server, run: Awaitable[dict[str, Any]]
    ) -> dict[str, Any]:
        async with (
            self.progress.phase(label, seconds),
            CpuSampler(server.pid, self.redis_pids.get(server.pid)).sampling() as sampler,
        ):
            result = await run
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
