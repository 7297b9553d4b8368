"""The aiohttp application: shared objects, middleware, and each feature's routes and loops."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from gateway.config import MIN_SECRET_BYTES, ConfigError, Settings
from gateway.console import routes as console
from gateway.delivery import feature as delivery
from gateway.engine import Engine
from gateway.engine.retention import retention_loop
from gateway.http import ops
from gateway.http.access_log import AccessLog
from gateway.http.appkeys import (
    ACCESS_LOG,
    ADMIN_KEY,
    ENGINE,
    INFLIGHT,
    JWT_SECRET,
    LOOPS,
    METRICS,
    ROUTE_TABLE,
    SETTINGS,
    TRUSTED_PROXIES,
)
from gateway.http.forwarded import TrustedProxies
from gateway.http.inflight import InFlight
from gateway.http.middleware import request_middleware
from gateway.http.routes import RouteTable
from gateway.inbound import feature as inbound
from gateway.loops import Loops
from gateway.metrics import Metrics
from gateway.reference import routes as reference
from gateway.ws import feature as agent_ws

Feature = Callable[[web.Application], None]

FEATURES: tuple[Feature, ...] = (
    ops.setup,
    inbound.setup,
    delivery.setup,
    agent_ws.setup,
    console.setup,
    reference.setup,
)


async def _start_retention(app: web.Application) -> None:
    settings = app[SETTINGS]
    loop = retention_loop(
        app[ENGINE], app[METRICS], settings.history_seconds, settings.history_max_bytes
    )
    app[LOOPS].start("retention", loop)


async def _stop_loops_and_engine(app: web.Application) -> None:
    await app[LOOPS].stop()
    await app[ENGINE].close()
    app[ACCESS_LOG].flush()


def build_app(
    settings: Settings, engine: Engine, *, admin_key: str, jwt_secret: str
) -> web.Application:
    """Everything a running gateway serves; tests build it in-process with their own engine.
    The secrets' floor holds here too, not only in the settings they usually come from."""
    for name, secret in (("admin key", admin_key), ("JWT secret", jwt_secret)):
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"the {name} must be at least {MIN_SECRET_BYTES} bytes")
    app = web.Application(
        middlewares=[request_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[ENGINE] = engine
    app[METRICS] = Metrics()
    app[LOOPS] = Loops()
    app[INFLIGHT] = InFlight()
    app[ACCESS_LOG] = AccessLog()
    app[TRUSTED_PROXIES] = TrustedProxies.of(settings)
    app[ADMIN_KEY] = admin_key
    app[JWT_SECRET] = jwt_secret
    app[ROUTE_TABLE] = RouteTable()
    app.on_startup.append(_start_retention)
    for feature in FEATURES:
        feature(app)
    app.on_cleanup.append(_stop_loops_and_engine)
    return app
