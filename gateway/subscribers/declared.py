"""Subscribers declared in the configuration file (`[[subscribers]]`), created at start-up.

Like declared integrations: each has a stable id (given as `subscriberId`, or derived from
its url, format and events), one that already exists is left as it is (with the credentials
it got then; create-if-absent, so N processes starting together agree on one), and a
declaration the admin API would refuse stops start-up with a `ConfigError` naming the table
and the field.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web
from pydantic import Field, ValidationError

from gateway.config import ConfigError
from gateway.delivery.runtime import RESOLVER
from gateway.delivery.ssrf import refusal
from gateway.errors import describe_validation_error
from gateway.http.appkeys import ENGINE, SETTINGS
from gateway.subscribers.bodies import SubscriberCreate
from gateway.subscribers.model import Subscriber, new_subscriber
from gateway.subscribers.store import SubscriberStore

_DECLARED_NAMESPACE = uuid.UUID("0b7e5d2a-3c41-4f6e-9d8a-1e2f3a4b5c6d")


class DeclaredSubscriber(SubscriberCreate):
    subscriberId: str | None = Field(None, pattern=r"^[A-Za-z0-9._~-]{1,100}$")

    def stable_id(self) -> str:
        if self.subscriberId:
            return self.subscriberId
        seed = "\n".join((self.url, self.format, *sorted(self.events)))
        return str(uuid.uuid5(_DECLARED_NAMESPACE, seed))


def declared_subscriber(index: int, table: dict[str, Any], now: float) -> Subscriber:
    """The subscriber the `index`th table declares, or ConfigError saying what is wrong."""
    try:
        declared = DeclaredSubscriber.model_validate(table)
    except ValidationError as exc:
        raise ConfigError(
            f"[[subscribers]] #{index + 1}: {describe_validation_error(exc)}"
        ) from None
    return new_subscriber(declared.stable_id(), declared, now)


async def create_declared(app: web.Application) -> None:
    """on_startup hook: validate every declaration first, then create the missing ones."""
    now = time.time()
    tables = app[SETTINGS].subscribers
    subscribers = [declared_subscriber(i, table, now) for i, table in enumerate(tables)]
    if len({subscriber.id for subscriber in subscribers}) != len(subscribers):
        raise ConfigError("[[subscribers]]: two tables declare the same subscriber")
    if not app[SETTINGS].allow_private_targets:
        for index, subscriber in enumerate(subscribers):
            refused = await refusal(subscriber.url, app[RESOLVER])
            if refused is not None:
                raise ConfigError(f"[[subscribers]] #{index + 1}: url: {refused}")
    store = SubscriberStore(app[ENGINE].registry)
    for subscriber in subscribers:
        await store.create(subscriber)
