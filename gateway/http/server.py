"""The server process: bind, announce, serve until SIGTERM, then shut down gracefully.

Shutdown order (aiohttp's runner): stop accepting, run `on_shutdown` (websockets close 1012,
deliveries go back to the queue), wait for in-flight requests, then `on_cleanup`.
"""

from __future__ import annotations

import asyncio
import signal
import socket

from aiohttp import web

from gateway.config import ConfigError, Settings, generated_secret
from gateway.engine import Engine
from gateway.engine.memory import MemoryEngine
from gateway.http.app import build_app


class StartupError(Exception):
    """The server could not start; the message is one printable line."""


def create_engine(settings: Settings) -> Engine:
    if settings.redis_url:
        raise ConfigError("GATEWAY_REDIS_URL is set, but this build has no Redis engine yet")
    return MemoryEngine()


def _bound_port(site: web.TCPSite, fallback: int) -> int:
    server = site._server
    sockets: list[socket.socket] = list(getattr(server, "sockets", None) or [])
    return int(sockets[0].getsockname()[1]) if sockets else fallback


async def serve(settings: Settings) -> None:
    admin_key = settings.admin_key or generated_secret()
    engine = create_engine(settings)
    app = build_app(
        settings,
        engine,
        admin_key=admin_key,
        jwt_secret=settings.jwt_secret or generated_secret(),
    )
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=settings.shutdown_timeout_seconds,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        reason = exc.strerror or str(exc)
        raise StartupError(f"cannot listen on {settings.host}:{settings.port}: {reason}") from None
    port = _bound_port(site, settings.port)
    print(f"gateway listening on http://{settings.host}:{port} (engine: {engine.name})", flush=True)
    if settings.admin_key is None:
        print(f"admin key: {admin_key}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()
