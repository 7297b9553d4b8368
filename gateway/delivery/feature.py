"""The subscriber webhooks feature: admin routes, the enqueuer and dispatcher loops, and the
hand-back of unfinished deliveries at shutdown."""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.enqueuer import EnqueuerLease, enqueuer_loop
from gateway.delivery.runtime import DELIVERY, RESOLVER, DeliveryRuntime
from gateway.delivery.sender import HttpSender
from gateway.delivery.ssrf import system_resolver
from gateway.delivery.worker import Deliverer
from gateway.engine.base import EngineUnavailable
from gateway.http.appkeys import ENGINE, LOOPS, METRICS, SETTINGS
from gateway.http.routes import add_routes
from gateway.subscribers import api as subscriber_api
from gateway.subscribers.declared import create_declared

log = logging.getLogger("gateway.delivery")


async def _start(app: web.Application) -> None:
    settings = app[SETTINGS]
    runtime = app[DELIVERY]
    runtime.sender = HttpSender(
        app[RESOLVER],
        allow_private=settings.allow_private_targets,
        timeout=settings.delivery_timeout_seconds,
    )
    deliverer = Deliverer(app[ENGINE], runtime.sender, app[METRICS], settings.retry_schedule)
    lease = settings.delivery_timeout_seconds + settings.delivery_lease_margin_seconds
    runtime.dispatcher = Dispatcher(deliverer, lease)
    leader = app[METRICS].enqueuer_leader
    runtime.lease = EnqueuerLease(
        app[ENGINE], settings.enqueuer_lease_seconds, lambda held: leader.set(int(held))
    )
    enqueuer = enqueuer_loop(app[ENGINE], runtime.wake, runtime.lease)
    app[LOOPS].start("delivery-enqueuer", enqueuer)
    app[LOOPS].start("delivery-dispatcher", runtime.dispatcher.run)


async def _hand_back(app: web.Application) -> None:
    """Claimed deliveries go back to the queue, and the enqueuer's lease to whichever
    process tries for it next (not after it lapses)."""
    runtime = app[DELIVERY]
    if runtime.dispatcher is not None:
        await runtime.dispatcher.close()
    if runtime.lease is not None:
        try:
            await runtime.lease.release()
        except Exception as exc:  # it lapses by itself; shutdown goes on
            if not isinstance(exc, EngineUnavailable):
                log.warning("the delivery enqueuer's lease was not given up: %r", exc)


async def _close_sender(app: web.Application) -> None:
    sender = app[DELIVERY].sender
    if sender is not None:
        await sender.close()


def setup(app: web.Application) -> None:
    app[RESOLVER] = system_resolver
    app[DELIVERY] = DeliveryRuntime()
    add_routes(app, subscriber_api.ROUTES)
    app.on_startup.append(create_declared)
    app.on_startup.append(_start)
    app.on_shutdown.append(_hand_back)
    app.on_cleanup.append(_close_sender)
