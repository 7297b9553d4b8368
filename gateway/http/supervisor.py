"""`python -m gateway serve --workers N`: N worker processes serving one port, and the
process that supervises them.

- **One port.** The supervisor binds the port first, with SO_REUSEPORT, and never listens
  on it: that reserves the port for the run (and, with `--port 0`, says which one it is).
  Each worker binds the same port with SO_REUSEPORT and listens; the kernel spreads new
  connections over the listening sockets, so the supervisor takes none.
- **Workers** are fresh interpreters, `python -m gateway serve --worker ID --host H --port
  P [--config F]`: nothing is inherited by fork (no event loop, no Redis connection), and
  each opens its own engine, with its own instance id in presence and delivery leases. They
  share state through Redis only, which is why more than one needs the Redis engine; and
  with it the admin key, JWT secret and master keys come from the configuration (the Redis
  engine refuses to start without them: every process on it, on this host or another,
  must accept the same ones).
- **Start-up.** Worker 1 starts alone, so that what every worker would refuse (Redis out of
  reach, a configuration only the engine checks) is one line, not N; then the others start
  together. If any fails, the rest are stopped, its refusal (which a worker prints to the
  supervisor, not to the shared stderr) is the one line, and the exit status is 2. Once
  all have announced, the supervisor prints the start-up line (the workers' own, which
  they print to it), `workers: N`, and the Redis target.
- **Restarts.** A worker that dies is started again, and both are logged (a start-up
  refusal as the reason, in the JSON line with the worker's id). So is a worker that left
  because one of its loops died (`server.py`). One that dies before it has served for
  `STABLE_SECONDS` counts as failing at start-up: it is restarted after a delay doubling
  from `FIRST_BACKOFF_SECONDS` to `MAX_BACKOFF_SECONDS`, so a worker that cannot start
  (Redis down) costs a line every half minute, not a busy loop. A worker that exits 0 is
  given `CLEAN_EXIT_GRACE_SECONDS` for the supervisor's own stop to arrive: under systemd's
  default `KillMode=control-group` every process gets SIGTERM at once, and a worker that
  drained first must not be taken for a death. Each restart is counted in
  `gateway_worker_restarts_total{worker}` by the worker started (it is told how many).
- **Metrics.** The workers count in prometheus-client's multiprocess mode
  (`gateway/metrics.py`) in one directory per run: `PROMETHEUS_MULTIPROC_DIR` when the
  operator set it (emptied at start), else a temporary one removed at exit. A dead worker's
  live gauges (its open sessions) are removed when it is buried (`mark_process_dead`); its
  counters stay in the totals.
- **Shutdown.** SIGTERM or SIGINT: every worker gets SIGTERM and drains (in-flight requests
  finish, websockets close with 1012, deliveries go back to the queue); the supervisor exits
  0 once every worker has exited 0. A worker whose supervisor is gone, even by `kill -9`,
  shuts down by itself (`server.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import multiprocess

from gateway import early_signals
from gateway.config import Settings
from gateway.engine.factory import redis_options
from gateway.http.server import EXIT_LOOP_DIED, StartupError, loop_line, redis_line
from gateway.metrics import MULTIPROCESS_DIR

log = logging.getLogger("gateway.supervisor")

START_TIMEOUT_SECONDS = 60.0
"""How long a worker may take to announce that it listens before it is killed as failed."""
STABLE_SECONDS = 10.0
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
STOP_MARGIN_SECONDS = 30.0
CLEAN_EXIT_GRACE_SECONDS = 1.0
"""Beyond `shutdown_timeout_seconds`, what a draining worker may take to close websockets,
hand deliveries back and close its engine before it is killed."""

START_LINE = re.compile(r"^gateway listening on \S+ \(engine: \w+\)$")


def reserve_port(host: str, port: int) -> tuple[socket.socket, int]:
    """A socket bound (not listening) to `host:port` with SO_REUSEPORT, and its port.

    SO_REUSEPORT would also let this socket join another process's listeners on the port
    (a second supervisor started by mistake), so the port is first bound without it: that
    fails while anything else holds the port, and with `--port 0` picks the port."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
            address = (address[0], probe.getsockname()[1], *address[2:])
        reserved = socket.socket(family, kind, proto)
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reserved.bind(address)
    except OSError as exc:
        reserved.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return reserved, int(reserved.getsockname()[1])


def _ended(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    if returncode == EXIT_LOOP_DIED:
        return f"exited with status {returncode} (a background loop died)"
    return f"exited with status {returncode}"


@dataclass
class _Worker:
    """One worker slot: the process now serving as worker `worker_id`, and its history."""

    worker_id: int
    process: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    announced: str | None = None
    refusal: str | None = None
    """What the process said instead of announcing (`gateway: ...`), if anything."""
    failures: int = 0
    uncounted_restarts: int = 0
    drain: asyncio.Task[None] | None = field(default=None, repr=False)

    def backoff(self) -> float:
        """The delay before the next start: none after a worker that served for a while,
        else doubling with each quick death in a row."""
        if self.announced is not None and time.monotonic() - self.started_at >= STABLE_SECONDS:
            self.failures = 0
            return 0.0
        self.failures += 1
        return min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2.0 ** (self.failures - 1))


class Supervisor:
    def __init__(self, settings: Settings, config_path: str | None) -> None:
        self._settings = settings
        self._config_path = config_path
        self._stop = asyncio.Event()
        self._workers = [_Worker(worker_id) for worker_id in range(1, settings.workers + 1)]
        self._env = dict(os.environ)
        self._port = 0

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop.set)
        if early_signals.received():
            self._stop.set()
        settings = self._settings
        reserved, self._port = reserve_port(settings.host, settings.port)
        metrics_dir, owned = self._metrics_directory()
        try:
            self._prepare_environment(metrics_dir)
            return await self._serve()
        finally:
            reserved.close()
            if owned:
                shutil.rmtree(metrics_dir, ignore_errors=True)

    def _metrics_directory(self) -> tuple[Path, bool]:
        """(the directory, whether this run made it and removes it)."""
        given = os.environ.get(MULTIPROCESS_DIR)
        if not given:
            return Path(tempfile.mkdtemp(prefix="gateway-metrics-")), True
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        return directory, False

    def _prepare_environment(self, metrics_dir: Path) -> None:
        self._env[MULTIPROCESS_DIR] = str(metrics_dir)
        self._env["PYTHONUNBUFFERED"] = "1"

    def _command(self, worker: _Worker) -> list[str]:
        command = [sys.executable, "-m", "gateway", "serve", "--worker", str(worker.worker_id)]
        command += ["--supervisor", str(os.getpid()), "--restarts", str(worker.uncounted_restarts)]
        command += ["--host", self._settings.host, "--port", str(self._port)]
        if self._config_path:
            command += ["--config", self._config_path]
        return command

    async def _serve(self) -> int:
        first, *others = self._workers
        started = await self._start(first) and all(
            await asyncio.gather(*(self._start(worker) for worker in others))
        )
        if self._stop.is_set():
            return await self._stop_all()
        if not started:
            await self._stop_all()
            refused = next((w for w in self._workers if w.announced is None), first)
            refusal = refused.refusal or f"gateway: worker {refused.worker_id} did not start"
            print(refusal, file=sys.stderr, flush=True)
            return 2
        print(first.announced, flush=True)
        print(f"workers: {len(self._workers)}", flush=True)
        if self._settings.redis_url:
            print(redis_line(redis_options(self._settings)), flush=True)
        print(loop_line(self._settings.event_loop), flush=True)
        keepers = [asyncio.create_task(self._keep(worker)) for worker in self._workers]
        await self._stop.wait()
        for keeper in keepers:  # first, so that none starts a worker the stop would miss
            keeper.cancel()
        await asyncio.gather(*keepers, return_exceptions=True)
        return await self._stop_all()

    async def _start(self, worker: _Worker) -> bool:
        """Start the worker's process; True once it has announced that it listens."""
        worker.announced = worker.refusal = None
        worker.started_at = time.monotonic()
        worker.process = process = await asyncio.create_subprocess_exec(
            *self._command(worker),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            env=self._env,
            process_group=0,  # Ctrl-C reaches the supervisor, which stops the workers
        )
        assert process.stdout is not None
        try:
            async with asyncio.timeout(START_TIMEOUT_SECONDS):
                while line := await process.stdout.readline():
                    text = line.decode(errors="replace").strip()
                    if START_LINE.match(text):
                        worker.announced = text
                        break
                    if text.startswith("gateway: "):
                        worker.refusal = text
        except TimeoutError:
            log.error(
                "worker %d did not start within %ss",
                worker.worker_id,
                START_TIMEOUT_SECONDS,
                extra={"worker": worker.worker_id, "pid": process.pid},
            )
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        if worker.announced is None:
            await process.wait()  # it closed its output: it is exiting, or was killed
            return False
        worker.uncounted_restarts = 0  # counted by the worker, before it announced
        # Whatever else it prints is read and dropped: an unread pipe would block it.
        worker.drain = asyncio.create_task(_discard(process.stdout))
        return True

    async def _keep(self, worker: _Worker) -> None:
        """Restart the worker each time it dies, until the supervisor stops."""
        while True:
            assert worker.process is not None
            returncode = await worker.process.wait()
            if returncode == 0:  # drained on a SIGTERM that may be the supervisor's too
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), CLEAN_EXIT_GRACE_SECONDS)
            if self._stop.is_set():
                return
            pid = worker.process.pid
            multiprocess.mark_process_dead(pid, self._env[MULTIPROCESS_DIR])  # type: ignore[no-untyped-call]
            delay = worker.backoff()
            fields: dict[str, object] = {
                "worker": worker.worker_id,
                "pid": pid,
                "restartInSeconds": delay,
            }
            if worker.announced is None:
                what = f"worker {worker.worker_id} failed to start ({_ended(returncode)})"
                if worker.refusal:
                    fields["reason"] = worker.refusal.removeprefix("gateway: ")
                    what += f": {fields['reason']}"
            else:
                what = f"worker {worker.worker_id} (pid {pid}) {_ended(returncode)}"
            log.error("%s; restarting it in %gs", what, delay, extra=fields)
            worker.uncounted_restarts += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            if self._stop.is_set():
                return
            if await self._start(worker):
                log.info(
                    "worker %d restarted",
                    worker.worker_id,
                    extra={"worker": worker.worker_id, "pid": worker.process.pid},
                )

    async def _stop_all(self) -> int:
        """SIGTERM every worker and wait for them: 0 when all exited 0."""
        running = [w.process for w in self._workers if w.process and w.process.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        limit = self._settings.shutdown_timeout_seconds + STOP_MARGIN_SECONDS
        try:
            async with asyncio.timeout(limit):
                for process in running:
                    await process.wait()
        except TimeoutError:
            log.error("workers still running %gs after SIGTERM: killed", limit)
            for process in running:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            return 1
        failed = [process for process in running if process.returncode != 0]
        for process in failed:
            assert process.returncode is not None
            log.error("a worker (pid %d) %s on shutdown", process.pid, _ended(process.returncode))
        return 1 if failed else 0


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


def supervise(settings: Settings, config_path: str | None) -> int:
    """Run `settings.workers` workers until SIGTERM; the exit status."""
    return asyncio.run(Supervisor(settings, config_path).run())
