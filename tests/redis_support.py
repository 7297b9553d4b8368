"""A real redis-server for tests: started on a free loopback port in a temporary directory,
nothing persisted unless asked, stopped (or killed, or restarted) on demand.

`tests/conftest.py` holds one for the whole session (`redis_server`), and a Redis Cluster
of three masters (`redis_cluster`); each test gets a fresh key prefix (`redis_options`,
`redis_cluster_options`), so tests never see each other's keys. A test that stops or
reconfigures its server starts its own `RedisServer`; `SentinelServer` watches a master.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from redis.asyncio.connection import Connection

from gateway.engine.base import Engine
from gateway.engine.events import NewEvent

START_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def free_cluster_port() -> int:
    """A free port a cluster node can use: its bus listens 10000 higher, so at most 55535,
    and that port free too."""
    for _ in range(200):
        port = free_port()
        if port > 55535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


class RedisServer:
    """One redis-server process. `extra` are further `--name value` arguments (later ones
    win); `client_options` are what `client()` needs beyond host and port (TLS)."""

    def __init__(
        self,
        directory: Path,
        *extra: str,
        port: int | None = None,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed (scripts/test installs it)")
        self.binary = binary
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.extra = extra
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.client_options = client_options or {}

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=5, **self.client_options
        )

    def start(self) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        args += ["--lazyfree-lazy-expire", "yes"]  # as docs/redis.md recommends
        args += list(self.extra)
        log = (self.directory / "redis.log").open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, cwd=self.directory)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log_tail()}")
            try:
                if self.client().ping():
                    return self
            except redis.exceptions.RedisError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer on {self.port}: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()


def fresh_prefix() -> str:
    return "t" + uuid.uuid4().hex[:12]


class SentinelServer:
    """One redis-server in sentinel mode watching the master `service` at `master_port`."""

    def __init__(
        self,
        directory: Path,
        service: str,
        master_port: int,
        *,
        password: str | None = None,
        master_password: str | None = None,
    ) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed (scripts/test installs it)")
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.service = service
        self.config = directory / "sentinel.conf"
        self.config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {directory}\n"
            f"sentinel monitor {service} 127.0.0.1 {master_port} 1\n"
            f"sentinel down-after-milliseconds {service} 1000\n"
            f"sentinel failover-timeout {service} 5000\n"
            + (f"requirepass {password}\n" if password else "")
            + (f"sentinel auth-pass {service} {master_password}\n" if master_password else "")
        )
        self.password = password
        log = (directory / "sentinel.log").open("ab")
        self.proc = subprocess.Popen(
            [binary, str(self.config), "--sentinel"], stdout=log, stderr=log, cwd=directory
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.exceptions.RedisError:
                time.sleep(0.02)
        raise RuntimeError(f"redis sentinel did not answer on {self.port}")

    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=5, password=self.password
        )

    def master_port(self) -> int:
        _, port = self.client().sentinel_get_master_addr_by_name(self.service)
        return int(port)

    def replicas(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.client().sentinel_slaves(self.service)
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def new_event(key: str, hub: str = "hub-a") -> NewEvent:
    """An event whose dedup key is `key`, also found in its body (`orjson.loads(...)["key"]`)."""
    body = orjson.dumps({"type": "message:customer", "hubId": hub, "key": key})
    return NewEvent(key, hub, "c1", "message:customer", body)


async def assert_a_waiter_wakes(engine: Engine) -> None:
    """A `wait_after` at the log's end returns the next event appended (the process's
    blocking reader is following the stream)."""
    cursor = await engine.events.last_id()
    waiter = asyncio.create_task(engine.events.wait_after(cursor, 10, 10))
    await asyncio.sleep(0.3)
    stored = (await engine.events.append([new_event(f"wake-{uuid.uuid4()}")], 60)).stored
    assert [event.id for event in await asyncio.wait_for(waiter, 10)] == [stored[0].id]


class RedisClusterServers:
    """A Redis Cluster of three masters (no replicas) on free loopback ports, made with
    `redis-server --cluster-enabled yes` and `redis-cli --cluster create`."""

    MASTERS = 3

    def __init__(self, directory: Path) -> None:
        self.servers = [
            RedisServer(
                directory / f"node{n}",
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "2000",
                port=free_cluster_port(),
            )
            for n in range(self.MASTERS)
        ]  # fmt: skip

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{s.port}" for s in self.servers)

    def start(self) -> RedisClusterServers:
        for server in self.servers:
            server.start()
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed (it comes with redis-server)")
        nodes = [f"127.0.0.1:{server.port}" for server in self.servers]
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=30,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while any(s.client().cluster("info")["cluster_state"] != "ok" for s in self.servers):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster never reached cluster_state:ok")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop(kill=True)


def commands_sent(
    monkeypatch: pytest.MonkeyPatch, keep: Callable[[bytes], bool] = lambda packed: True
) -> list[bytes]:
    """From now on, every command any redis-py connection sends, as it goes to the socket,
    that `keep` accepts: what a test counts round trips by."""
    sent: list[bytes] = []
    original = Connection.send_packed_command

    async def spy(self: Connection, command: Any, check_health: bool = True) -> None:
        packed = b"".join(command) if isinstance(command, list) else bytes(command)
        if keep(packed):
            sent.append(packed)
        await original(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", spy)
    return sent
