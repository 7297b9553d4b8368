"""Child processes: the gateway, the baseline servers and the sink, each in its own process.

A server is started with `--port 0`, announces `... listening on http://HOST:PORT ...` on
stdout, and is stopped with SIGTERM. Its stderr goes to a temporary file (a pipe nobody
reads would eventually block it), shown when it fails to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

LISTENING = re.compile(rb"listening on http://(\[[^\]\s]+\]|[^:\s]+):(\d+)")
LOOP_NAMED = re.compile(rb"(?:^event loop: |\(loop: )(\w+)")
"""Where a server names its event loop: the gateway on a start-up line of its own, a
baseline in its listening line."""
START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0


class StartFailed(Exception):
    """A server process exited or stayed silent instead of announcing its port."""


@dataclass(frozen=True, slots=True)
class Server:
    pid: int
    host: str
    port: int

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class GatewayCredentials:
    admin_key: str
    jwt_secret: str


def gateway_env(credentials: GatewayCredentials, loop: str) -> dict[str, str]:
    """The gateway's environment for a bench run: fixed secrets, private targets allowed,
    the event loop chosen."""
    return {
        "GATEWAY_ADMIN_KEY": credentials.admin_key,
        "GATEWAY_JWT_SECRET": credentials.jwt_secret,
        "GATEWAY_ALLOW_PRIVATE_TARGETS": "1",
        "GATEWAY_EVENT_LOOP": loop,
    }


def new_credentials() -> GatewayCredentials:
    return GatewayCredentials(secrets.token_urlsafe(24), secrets.token_urlsafe(32))


def gateway_command(profile_to: Path | None = None, workers: int = 1) -> list[str]:
    """`python -m gateway serve` on a free port, with `workers` worker processes; under
    pyinstrument when `profile_to` is given (the text report is written there when the
    server exits on SIGTERM; one process only)."""
    serve = ["-m", "gateway", "serve", "--host", "127.0.0.1", "--port", "0"]
    if workers > 1:
        serve += ["--workers", str(workers)]
    if profile_to is None:
        return [sys.executable, *serve]
    profiler = ["-m", "pyinstrument", "--renderer", "text", "--no-color", "-o", str(profile_to)]
    return [sys.executable, *profiler, *serve]


def module_command(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


@contextlib.asynccontextmanager
async def running(
    command: list[str], env: Mapping[str, str] | None = None, loop: str | None = None
) -> AsyncIterator[Server]:
    """Start `command`, wait for its listening line (and, given `loop`, for the line naming
    the event loop it runs on, which must be that one), yield where it listens, then
    SIGTERM it."""
    with tempfile.TemporaryFile() as errors:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            env={**os.environ, **(env or {})},
        )
        try:
            server = await _announced(process, errors, loop)
            assert process.stdout is not None
            drain = asyncio.create_task(_discard(process.stdout))
            try:
                yield server
            finally:
                drain.cancel()
        finally:
            await stop(process)


async def _announced(
    process: asyncio.subprocess.Process, errors: IO[bytes], loop: str | None
) -> Server:
    assert process.stdout is not None
    server = None
    try:
        async with asyncio.timeout(START_TIMEOUT_SECONDS):
            while line := await process.stdout.readline():
                if server is None and (match := LISTENING.search(line)):
                    host, port = match.group(1).decode().strip("[]"), int(match.group(2))
                    server = Server(process.pid, host, port)
                if server is not None and loop is None:
                    return server
                if server is not None and (named := LOOP_NAMED.search(line)):
                    if named.group(1).decode() != loop:
                        raise StartFailed(f"server runs on {named.group(1).decode()}, not {loop}")
                    return server
    except TimeoutError:
        pass
    if server is not None:
        raise StartFailed(f"server did not name its event loop: {_tail(errors)}")
    raise StartFailed(f"server did not announce its port: {_tail(errors)}")


def _tail(errors: IO[bytes]) -> str:
    errors.seek(0)
    return errors.read().decode(errors="replace").strip()[-800:]


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL if it is still there after the grace."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (a gateway with `--workers` is a supervisor and its
    workers), from /proc; processes that ended meanwhile are left out."""
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as kids:
                    pending += [int(child) for child in kids.read().split()]
    return tree


def rss_bytes(pid: int) -> int:
    """Resident set size of a process and its descendants, from /proc/<pid>/status (VmRSS,
    in kB)."""
    total = 0
    for member in process_tree(pid):
        with (
            contextlib.suppress(OSError),
            open(f"/proc/{member}/status", encoding="ascii") as status,
        ):
            for line in status:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    if not total:
        raise RuntimeError(f"no VmRSS for pid {pid}")
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its descendants have used so far, from
    /proc/<pid>/stat: their own, and that of children already waited for (a worker that
    was restarted)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in process_tree(pid):
        with (
            contextlib.suppress(OSError),
            open(f"/proc/{member}/stat", encoding="ascii") as stat,
        ):
            fields = stat.read().rsplit(")", 1)[1].split()
            total += sum(int(value) for value in fields[11:15])
    return total / ticks


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (the `cpu` line of /proc/stat)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
