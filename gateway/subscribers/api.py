"""Admin routes for subscribers (contract §2): CRUD, rotation, enable, attempts, replay."""

from __future__ import annotations

import re
import time
import uuid
from typing import Annotated, Any

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, model_validator

from gateway.admin.json_body import parse_body
from gateway.admin.paging import page_from
from gateway.delivery.attempts import STATUSES
from gateway.delivery.enqueuer import replay
from gateway.delivery.runtime import DELIVERY, RESOLVER
from gateway.delivery.ssrf import refusal
from gateway.engine.deliveries import DEAD_LETTER_SIZE
from gateway.engine.events import event_id_at
from gateway.errors import invalid_payload, not_found
from gateway.http.appkeys import ENGINE, SETTINGS
from gateway.http.routes import Route
from gateway.subscribers.bodies import SubscriberChanges, SubscriberCreate
from gateway.subscribers.model import Subscriber, new_subscriber
from gateway.subscribers.store import SubscriberStore
from gateway.times import epoch_ms

_EVENT_ID = re.compile(r"^\d{13}-\d{6}$")


def _rfc3339_text(value: object) -> object:
    """Only a string is an RFC 3339 time (pydantic would read a number as epoch seconds)."""
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 time string")
    return value


Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]


class ReplayRequest(BaseModel):
    """`{since, until?}` (RFC 3339) or `{afterEventId, until?}`."""

    model_config = ConfigDict(extra="forbid")

    since: Rfc3339 | None = None
    until: Rfc3339 | None = None
    afterEventId: str | None = None

    @model_validator(mode="after")
    def _one_start(self) -> ReplayRequest:
        if (self.since is None) == (self.afterEventId is None):
            raise ValueError("give either since (an RFC 3339 time) or afterEventId")
        if self.afterEventId is not None and not _EVENT_ID.match(self.afterEventId):
            raise ValueError("afterEventId is not a gateway event id")
        if self.since is not None and self.until is not None and self.until < self.since:
            raise ValueError("until is before since")
        return self

    def after_cursor(self) -> str:
        """The replay starts after this id: the given one, or just before `since`."""
        if self.since is not None:
            return event_id_at(epoch_ms(self.since) - 1, 999999)
        return str(self.afterEventId)

    def last_id(self) -> str | None:
        return None if self.until is None else event_id_at(epoch_ms(self.until), 999999)


def _store(request: web.Request) -> SubscriberStore:
    return SubscriberStore(request.app[ENGINE].registry)


async def _check_target(request: web.Request, url: str) -> None:
    if request.app[SETTINGS].allow_private_targets:
        return
    refused = await refusal(url, request.app[RESOLVER])
    if refused is not None:
        raise invalid_payload(f"url: {refused}")


async def _subscriber(request: web.Request) -> Subscriber:
    subscriber = await _store(request).get(request.match_info["subscriber_id"])
    if subscriber is None:
        raise not_found("No subscriber with this id.")
    return subscriber


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


async def create(request: web.Request) -> web.Response:
    body = await parse_body(request, SubscriberCreate)
    await _check_target(request, body.url)
    subscriber = new_subscriber(str(uuid.uuid4()), body, time.time())
    await _store(request).save(subscriber)
    return _json(subscriber.view(time.time()), 201)


async def list_all(request: web.Request) -> web.Response:
    page = page_from(request)
    now = time.time()
    return _json(page.of([s.view(now) for s in await _store(request).list()]))


async def get(request: web.Request) -> web.Response:
    return _json((await _subscriber(request)).view(time.time()))


async def update(request: web.Request) -> web.Response:
    subscriber = await _subscriber(request)
    changes = await parse_body(request, SubscriberChanges)
    if changes.url is not None and changes.url != subscriber.url:
        await _check_target(request, changes.url)
    updated = subscriber.changed(changes)
    await _store(request).save(updated)
    return _json(updated.view(time.time()))


async def delete(request: web.Request) -> web.Response:
    subscriber = await _subscriber(request)
    await _store(request).delete(subscriber.id)
    await request.app[ENGINE].deliveries.drop_subscriber(subscriber.id)
    return web.Response(status=204)


async def rotate(request: web.Request) -> web.Response:
    subscriber = await _subscriber(request)
    grace = request.app[SETTINGS].rotation_grace_seconds
    now = time.time()
    rotated = subscriber.rotated(now, grace)
    await _store(request).save(rotated)
    return _json(rotated.view(now))


async def enable(request: web.Request) -> web.Response:
    subscriber = await _subscriber(request)
    enabled = subscriber.enable()
    await request.app[ENGINE].deliveries.clear_failing(subscriber.id)
    await _store(request).save(enabled)
    request.app[DELIVERY].wake()
    return _json(enabled.view(time.time()))


async def deliveries(request: web.Request) -> web.Response:
    """The attempt log, newest first. `status=dead` lists the dead letters instead: every
    dead delivery still kept for replay (newest event first), each once, by its last
    attempt, even after the attempt log has moved on past it."""
    subscriber = await _subscriber(request)
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise invalid_payload(f"status must be one of {', '.join(STATUSES)}.")
    page = page_from(request)
    queue = request.app[ENGINE].deliveries
    if status == "dead":
        letters = await queue.dead_letters(subscriber.id, "", DEAD_LETTER_SIZE)
        return _json(page.of([letter.record for letter in reversed(letters)]))
    records = await queue.attempts(subscriber.id)
    if status is not None:
        records = [record for record in records if record["status"] == status]
    return _json(page.of(records))


async def replay_range(request: web.Request) -> web.Response:
    subscriber = await _subscriber(request)
    body = await parse_body(request, ReplayRequest)
    count = await replay(request.app[ENGINE], subscriber, body.after_cursor(), body.last_id())
    request.app[DELIVERY].wake()
    return _json({"enqueued": count}, 202)


ROUTES = (
    Route(
        "POST",
        "/subscribers",
        create,
        access="admin",
        name="createSubscriber",
        summary="Create a subscriber; its signing credentials are generated unless given.",
    ),
    Route(
        "GET",
        "/subscribers",
        list_all,
        access="admin",
        name="listSubscribers",
        summary="Subscribers in Hubster paging.",
    ),
    Route(
        "GET",
        "/subscribers/{subscriber_id}",
        get,
        access="admin",
        name="getSubscriber",
        summary="One subscriber with its credentials.",
    ),
    Route(
        "PATCH",
        "/subscribers/{subscriber_id}",
        update,
        access="admin",
        name="updateSubscriber",
        summary="Change url, filters, ordering, rate or description.",
    ),
    Route(
        "DELETE",
        "/subscribers/{subscriber_id}",
        delete,
        access="admin",
        name="deleteSubscriber",
        summary="Delete a subscriber and drop its queued deliveries.",
    ),
    Route(
        "POST",
        "/subscribers/{subscriber_id}/rotate",
        rotate,
        access="admin",
        name="rotateSubscriber",
        summary="New credentials; the previous ones keep signing for the grace period.",
    ),
    Route(
        "POST",
        "/subscribers/{subscriber_id}/enable",
        enable,
        access="admin",
        name="enableSubscriber",
        summary="Re-enable a disabled subscriber.",
    ),
    Route(
        "GET",
        "/subscribers/{subscriber_id}/deliveries",
        deliveries,
        access="admin",
        name="listSubscriberDeliveries",
        summary="Delivery attempts (or dead letters), newest first, in Hubster paging.",
    ),
    Route(
        "POST",
        "/subscribers/{subscriber_id}/replay",
        replay_range,
        access="admin",
        name="replaySubscriber",
        summary="Deliver the stored events of a range again.",
    ),
)
