"""Shared fixtures: a real `python -m gateway serve` process, and in-process apps."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gateway.engine.base import Engine
from gateway.engine.deliveries import QueueLimits
from gateway.engine.memory import MemoryEngine
from gateway.engine.redis import RedisOptions, open_redis_engine
from tests.redis_support import (
    RedisClusterServers,
    RedisServer,
    fresh_prefix,
    redis_server_binary,
)

ROOT = Path(__file__).resolve().parent.parent
Servers = TypeVar("Servers", RedisServer, RedisClusterServers)
START_LINE = re.compile(r"gateway listening on http://(\S+):(\d+) \(engine: (\w+)\)")


@dataclass
class GatewayProcess:
    """A gateway subprocess whose stdout start-up lines have been read."""

    proc: subprocess.Popen[str]
    host: str
    port: int
    engine: str
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def admin_key(self) -> str | None:
        for line in self.lines:
            if line.startswith("admin key: "):
                return line.removeprefix("admin key: ").strip()
        return None

    def terminate(self, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def gateway_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any GATEWAY_* leaking in, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run_gateway(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run `python -m gateway ...` to completion (for start-up failures)."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=ROOT,
        env=gateway_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_gateway(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 20,
    log_file: Path | None = None,
) -> GatewayProcess:
    """Start a gateway on a free port; its JSON log goes to `log_file` when given."""
    log = log_file.open("w") if log_file else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", "0", *args],
        cwd=ROOT,
        env=gateway_env(env),
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    if log_file:
        log.close()  # type: ignore[union-attr]
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        match = START_LINE.search(line)
        if match:
            gateway = GatewayProcess(proc, match[1], int(match[2]), match[3], lines)
            if "GATEWAY_ADMIN_KEY" not in (env or {}):
                gateway.lines.append(proc.stdout.readline().rstrip("\n"))
            return gateway
    proc.kill()
    raise AssertionError(f"gateway did not start: {lines!r}")


@pytest.fixture
def gateway_factory() -> Iterator[Any]:
    started: list[GatewayProcess] = []

    def factory(*args: str, env: dict[str, str] | None = None) -> GatewayProcess:
        gateway = start_gateway(*args, env=env)
        started.append(gateway)
        return gateway

    yield factory
    for gateway in started:
        if gateway.proc.poll() is None:
            gateway.proc.kill()
            gateway.proc.wait()


def _options(servers: RedisServer | RedisClusterServers) -> RedisOptions:
    """Options for shared servers under a key prefix of this test's own."""
    return RedisOptions(url=servers.url, key_prefix=fresh_prefix(), timeout_seconds=2.0)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the whole run; tests keep apart by key prefix."""
    yield from _for_the_session(RedisServer(tmp_path_factory.mktemp("redis")))


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    """A Redis Cluster of three masters for the whole run."""
    yield from _for_the_session(RedisClusterServers(tmp_path_factory.mktemp("redis-cluster")))


def _for_the_session(servers: Servers) -> Iterator[Servers]:
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed (scripts/test installs it)")
    servers.start()
    yield servers
    servers.stop()


@pytest.fixture
def redis_options(redis_server: RedisServer) -> RedisOptions:
    return _options(redis_server)


@pytest.fixture
def redis_cluster_options(redis_cluster: RedisClusterServers) -> RedisOptions:
    return _options(redis_cluster)


@pytest.fixture(params=["memory", "redis"])
def engine_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment putting this test's `python -m gateway serve` on the engine the test
    runs on: none for the memory engine; for Redis, the session's redis-server under a key
    prefix of the test's own."""
    if request.param == "memory":
        return {}
    server: RedisServer = request.getfixturevalue("redis_server")
    return {"GATEWAY_REDIS_URL": server.url, "GATEWAY_REDIS_KEY_PREFIX": fresh_prefix()}


NewEngine = Callable[..., Awaitable[Engine]]


@pytest.fixture(params=["memory", "redis"])
async def new_engine(request: pytest.FixtureRequest) -> AsyncIterator[NewEngine]:
    """Fresh engines of the kind this test runs on, closed at the end: the engine-facing
    suites take their default engine from here, so each of their tests runs on every
    engine. Engines made by one test share their data (a second process's view)."""
    redis = request.getfixturevalue("redis_options") if request.param == "redis" else None
    opened: list[Engine] = []

    async def new(limits: QueueLimits | None = None) -> Engine:
        engine: Engine
        if redis is None:
            engine = MemoryEngine(limits=limits) if not opened else opened[0]
        else:
            engine = await open_redis_engine(redis, limits=limits)
        opened.append(engine)
        return engine

    yield new
    for engine in opened:
        await engine.close()
