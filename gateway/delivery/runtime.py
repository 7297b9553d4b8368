"""The delivery feature's objects on the app, found through `DELIVERY` (what start-up
creates) and `RESOLVER` (how subscriber hosts are resolved: tests swap it for a fake before
the app starts, to play DNS answers such as rebinding without a DNS server)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.enqueuer import EnqueuerLease
from gateway.delivery.sender import HttpSender
from gateway.delivery.ssrf import Resolver


@dataclass
class DeliveryRuntime:
    """What start-up creates (the app is frozen by then, so it fills this holder in)."""

    sender: HttpSender | None = None
    dispatcher: Dispatcher | None = None
    lease: EnqueuerLease | None = None

    def wake(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.wake()


RESOLVER = web.AppKey("delivery_resolver", Resolver)
DELIVERY = web.AppKey("delivery", DeliveryRuntime)
