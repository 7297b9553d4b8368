"""A throw-away redis-server for `--engine redis`: one per gateway run, nothing persisted."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bench.procs import StartFailed, stop

READY_TIMEOUT_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _accepting(port: int) -> None:
    async with asyncio.timeout(READY_TIMEOUT_SECONDS):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return


@dataclass(frozen=True, slots=True)
class RedisProcess:
    url: str
    pid: int


@contextlib.asynccontextmanager
async def redis_server() -> AsyncIterator[RedisProcess]:
    """Start redis-server on a free port; yield its URL and pid; stop it."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise StartFailed("redis-server is not installed")
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        try:
            await _accepting(port)
        except TimeoutError:
            raise StartFailed(f"redis-server did not accept connections on {port}") from None
        yield RedisProcess(f"redis://127.0.0.1:{port}/0", process.pid)
    finally:
        await stop(process)
