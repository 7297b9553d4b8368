"""The server process: bind, announce, serve until SIGTERM or SIGINT, then shut down.

Shutdown order: stop listening, drain in-flight HTTP requests (within
`shutdown_timeout_seconds`), then aiohttp's runner runs `on_shutdown` (websockets close
1012, deliveries go back to the queue), gives handlers a last few seconds to finish writing,
and runs `on_cleanup`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from gateway import early_signals
from gateway.config import Settings, generated_secret
from gateway.engine.factory import open_engine
from gateway.http.app import build_app
from gateway.http.appkeys import INFLIGHT
from gateway.http.connections import GatewayRunner, raise_descriptor_limit
from gateway.http.inflight import InFlight

log = logging.getLogger("gateway.server")

# After the drain, what aiohttp's runner may still wait for: answers being written and
# websocket handlers finishing their 1012 close. Not the drain's limit a second time.
FINAL_CLOSE_SECONDS = 5.0


class StartupError(Exception):
    """The server could not start; the message is one printable line."""


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


def run(settings: Settings) -> None:
    """Serve on the chosen event loop until stopped."""
    with asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as runner:
        runner.run(serve(settings))


def _loop_name(loop: asyncio.AbstractEventLoop) -> str:
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if early_signals.received():
        stop.set()
    raise_descriptor_limit(settings.max_connections)
    admin_key = settings.admin_key or generated_secret()
    engine = await open_engine(settings)
    app = build_app(
        settings,
        engine,
        admin_key=admin_key,
        jwt_secret=settings.jwt_secret or generated_secret(),
    )
    runner = GatewayRunner(
        app,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=FINAL_CLOSE_SECONDS,
    )
    await runner.setup()
    if stop.is_set():
        await runner.cleanup()
        return
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        reason = exc.strerror or str(exc)
        raise StartupError(f"cannot listen on {settings.host}:{settings.port}: {reason}") from None
    port = site.port  # the bound port once started, so `--port 0` prints the real one
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"gateway listening on http://{host}:{port} (engine: {engine.name})", flush=True)
    if settings.admin_key is None:
        print(f"admin key: {admin_key}", flush=True)
    print(f"event loop: {_loop_name(loop)}", flush=True)
    await stop.wait()
    await _shut_down(runner, app[INFLIGHT], settings.shutdown_timeout_seconds)


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
