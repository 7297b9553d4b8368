"""Typed keys for the shared objects every feature finds on the aiohttp application.

A feature's own objects hang off one key of its runtime module (`WS_RUNTIME`, `DELIVERY`);
everything shared across features is keyed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from gateway.config import Settings
from gateway.engine import Engine
from gateway.http.access_log import AccessLog
from gateway.http.forwarded import TrustedProxies
from gateway.http.inflight import InFlight
from gateway.loops import Loops
from gateway.metrics import Metrics

if TYPE_CHECKING:
    from gateway.http.routes import RouteTable  # it needs these keys itself

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", Engine)
METRICS = web.AppKey("metrics", Metrics)
LOOPS = web.AppKey("loops", Loops)
ADMIN_KEY = web.AppKey("admin_key", str)
JWT_SECRET = web.AppKey("jwt_secret", str)
INFLIGHT = web.AppKey("inflight", InFlight)
ACCESS_LOG = web.AppKey("access_log", AccessLog)
TRUSTED_PROXIES = web.AppKey("trusted_proxies", TrustedProxies)
ROUTE_TABLE: web.AppKey[RouteTable] = web.AppKey("route_table")
