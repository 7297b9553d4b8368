"""The server process: bind, announce, serve until SIGTERM or SIGINT, then shut down.

Shutdown order: stop listening, drain in-flight HTTP requests (within
`shutdown_timeout_seconds`), then aiohttp's runner runs `on_shutdown` (websockets close
1012, deliveries go back to the queue), gives handlers a last few seconds to finish writing,
and runs `on_cleanup`.

A worker of `serve --workers N` (`supervisor.py` starts it) is the same server, listening
with SO_REUSEPORT beside its siblings, with two ways out of its own:
- its supervisor is gone (even by kill -9, even before the worker has started): it shuts
  down as on SIGTERM, since nothing would restart or stop it any more;
- one of its background loops died (`/readyz` would stay 503 for good, while the kernel
  kept giving it a share of the connections): it shuts down the same way and exits with
  `EXIT_LOOP_DIED`, and the supervisor starts another.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from gateway import early_signals
from gateway.config import Settings, generated_secret
from gateway.engine.factory import open_engine
from gateway.engine.redis import RedisEngine, RedisOptions
from gateway.http.app import build_app
from gateway.http.appkeys import INFLIGHT, LOOPS, METRICS
from gateway.http.connections import GatewayRunner, raise_descriptor_limit
from gateway.http.inflight import InFlight

log = logging.getLogger("gateway.server")

# After the drain, what aiohttp's runner may still wait for: answers being written and
# websocket handlers finishing their 1012 close. Not the drain's limit a second time.
FINAL_CLOSE_SECONDS = 5.0
EXIT_LOOP_DIED = 3
"""A worker's exit status after one of its background loops died."""


class StartupError(Exception):
    """The server could not start; the message is one printable line."""


@dataclass(frozen=True, slots=True)
class WorkerRole:
    """What the supervisor tells a worker it starts (hidden `serve` options)."""

    worker_id: int
    supervisor_pid: int
    restarts: int = 0
    """Restarts of this worker slot not counted yet in `gateway_worker_restarts_total`."""


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop `event_loop` asks for: uvloop (the `fast` extra) when it can be
    imported and is not turned down, else asyncio's own. The gateway behaves the same on
    either; uvloop's transports take less CPU per request and per frame
    (docs/benchmarks.md)."""
    if choice == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            message = "event_loop is uvloop, but uvloop cannot be imported (pip install '.[fast]')"
            raise StartupError(message) from None
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run(settings: Settings, *, worker: WorkerRole | None = None) -> int:
    """Serve on the chosen event loop until stopped; the exit status."""
    with asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as runner:
        return runner.run(serve(settings, worker=worker))


def loop_line(choice: str) -> str:
    """The start-up line naming the event loop `event_loop` resolves to (a supervisor's
    workers resolve it the same way)."""
    name = "asyncio" if loop_factory(choice) is asyncio.new_event_loop else "uvloop"
    return f"event loop: {name}"


async def serve(settings: Settings, *, worker: WorkerRole | None = None) -> int:
    """Serve until SIGTERM or SIGINT (or, for a worker, its supervisor's end or a dead
    loop); the exit status."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if early_signals.received():
        stop.set()
    unwatch = _follow_supervisor(worker.supervisor_pid, stop) if worker is not None else None
    try:
        return await _run(settings, worker, stop)
    finally:
        if unwatch is not None:
            unwatch()


async def _run(settings: Settings, worker: WorkerRole | None, stop: asyncio.Event) -> int:
    if stop.is_set():
        return 0
    raise_descriptor_limit(settings.max_connections)
    admin_key = settings.admin_key or generated_secret()
    engine = await open_engine(settings)
    app = build_app(
        settings,
        engine,
        admin_key=admin_key,
        jwt_secret=settings.jwt_secret or generated_secret(),
    )
    if worker is not None:
        app.on_response_prepare.append(_worker_header(str(worker.worker_id)))
    runner = GatewayRunner(
        app,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=FINAL_CLOSE_SECONDS,
    )
    await runner.setup()
    if stop.is_set():
        await runner.cleanup()
        return 0
    site = web.TCPSite(runner, settings.host, settings.port, reuse_port=worker is not None)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        reason = exc.strerror or str(exc)
        raise StartupError(f"cannot listen on {settings.host}:{settings.port}: {reason}") from None
    if worker is not None and worker.restarts:  # counted once it serves, as it announces
        app[METRICS].worker_restarts.labels(str(worker.worker_id)).inc(worker.restarts)
    port = site.port  # the bound port once started, so `--port 0` prints the real one
    _freeze_start_up_objects()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"gateway listening on http://{host}:{port} (engine: {engine.name})", flush=True)
    if settings.admin_key is None:
        print(f"admin key: {admin_key}", flush=True)
    if isinstance(engine, RedisEngine):
        print(redis_line(engine.options), flush=True)
    print(loop_line(settings.event_loop), flush=True)
    status = 0
    if worker is not None:
        crashed = app[LOOPS].crashed
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(crashed.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for waiting in waits:
            waiting.cancel()
        if crashed.is_set() and not stop.is_set():
            log.error("a background loop died: shutting down, to be replaced by the supervisor")
            status = EXIT_LOOP_DIED
    else:
        await stop.wait()
    await _shut_down(runner, app[INFLIGHT], settings.shutdown_timeout_seconds)
    return status


def _freeze_start_up_objects() -> None:
    """What start-up made (modules, models, the app) lives as long as the process; frozen,
    the garbage collector's full passes no longer walk it. Those passes stop the loop for
    as long as they walk, and over the start-up objects alone one took ~40 ms: the tail of
    every latency (docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()


def redis_line(options: RedisOptions) -> str:
    """The start-up line naming the Redis target (never its password) and key prefix."""
    return f"redis: {options.target} (key prefix {options.key_prefix})"


WORKER_HEADER = "X-Gateway-Worker"


def _worker_header(worker: str) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """`on_response_prepare` hook of a worker: every answer (websocket upgrades included)
    says which worker gave it, as its log lines do."""

    async def name_the_worker(request: web.Request, response: web.StreamResponse) -> None:
        response.headers[WORKER_HEADER] = worker

    return name_the_worker


def _follow_supervisor(supervisor: int, stop: asyncio.Event) -> Callable[[], None]:
    """A worker whose supervisor died (even by kill -9) shuts down like on SIGTERM: nothing
    would restart or stop it any more. Watched from the worker's first moment (a supervisor
    dying while the worker waits for Redis counts too) through a pidfd, which becomes
    readable when the process ends; returns what stops the watch.

    The pidfd is opened before the parent is compared with the pid the supervisor passed:
    while that pid is still this process's parent it cannot have been reused, so the pidfd
    is the supervisor's."""
    loop = asyncio.get_running_loop()

    def leave() -> None:
        log.warning("the supervisor (pid %d) is gone: shutting down", supervisor)
        stop.set()

    try:
        watch = os.pidfd_open(supervisor)
    except ProcessLookupError:
        leave()
        return lambda: None
    if os.getppid() != supervisor:
        os.close(watch)
        leave()
        return lambda: None

    def gone() -> None:
        loop.remove_reader(watch)
        leave()

    loop.add_reader(watch, gone)

    def unwatch() -> None:
        loop.remove_reader(watch)
        os.close(watch)

    return unwatch


async def _shut_down(runner: web.AppRunner, inflight: InFlight, limit_seconds: float) -> None:
    """Stop listening, let in-flight requests finish (their bodies still arriving), then let
    aiohttp run the app's shutdown hooks and close what is left."""
    for site in list(runner.sites):
        await site.stop()
    if not await inflight.drain(limit_seconds):
        log.warning(
            "shutdown: %d requests still in flight after %ss", inflight.count, limit_seconds
        )
    await runner.cleanup()
