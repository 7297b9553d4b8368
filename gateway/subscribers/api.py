"""Admin routes for subscribers: CRUD, rotation, enable, a test send, attempts, replay."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web
from pydantic import Field

from gateway.admin.json_body import parse_body
from gateway.admin.paging import PageQuery, ResultsPage, page_from, parse_query
from gateway.delivery.attempts import attempt_record
from gateway.delivery.enqueuer import replay
from gateway.delivery.examples import ExampleRequest, example_activity, example_event_id
from gateway.delivery.formats import render
from gateway.delivery.outcome import AttemptStatus
from gateway.delivery.runtime import DELIVERY, RESOLVER
from gateway.delivery.ssrf import refusal
from gateway.engine.deliveries import DeadLetter, DeliveryQueue, QueuedDelivery
from gateway.errors import Unavailable, invalid_payload, not_found
from gateway.http.appkeys import ENGINE, SETTINGS
from gateway.http.operation import Answer, Body, Operation
from gateway.http.routes import Route
from gateway.subscribers.bodies import (
    ReplayRequest,
    RotateRequest,
    SubscriberChanges,
    SubscriberCreate,
)
from gateway.subscribers.model import Subscriber, new_subscriber
from gateway.subscribers.store import SubscriberStore
from gateway.subscribers.views import (
    AttemptRecord,
    ExampleAttempt,
    ReplayEnqueued,
    SubscriberView,
)

DEAD_LETTER_BATCH = 1000


class DeliveriesQuery(PageQuery):
    """`GET /subscribers/{id}/deliveries`: one page, of one status when `status` is given
    (`dead` lists the dead letters kept for replay, each once)."""

    status: AttemptStatus | None = Field(None, description="Only records of this status.")


class SubscriberPage(ResultsPage[SubscriberView]):
    pass


class AttemptPage(ResultsPage[AttemptRecord]):
    pass


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
    subscriber = await _store(request).create(new_subscriber(str(uuid.uuid4()), body, time.time()))
    return _json(subscriber.view(time.time()), 201)


async def list_all(request: web.Request) -> web.Response:
    page = page_from(request)
    now = time.time()
    return _json(page.of([s.view(now) for s in await _store(request).list()]))


async def get(request: web.Request) -> web.Response:
    return _json((await _subscriber(request)).view(time.time()))


async def _changed(
    request: web.Request, change: Callable[[Subscriber], Subscriber | None]
) -> Subscriber:
    """Apply `change` to the subscriber as stored now (compare-and-set): whatever this
    request awaited before, a change that landed meanwhile (a rotation) is kept."""
    changed = await _store(request).update(request.match_info["subscriber_id"], change)
    if changed is None:
        raise not_found("No subscriber with this id.")
    return changed


async def update(request: web.Request) -> web.Response:
    subscriber = await _subscriber(request)
    changes = await parse_body(request, SubscriberChanges)
    if changes.url is not None and changes.url != subscriber.url:
        await _check_target(request, changes.url)
    updated = await _changed(request, lambda current: current.changed(changes))
    return _json(updated.view(time.time()))


async def delete(request: web.Request) -> web.Response:
    subscriber = await _subscriber(request)
    await _store(request).delete(subscriber.id)
    await request.app[ENGINE].deliveries.drop_subscriber(subscriber.id)
    return web.Response(status=204)


async def rotate(request: web.Request) -> web.Response:
    """A new secret (or key pair); the replaced one keeps signing for `graceSeconds` (the
    body's, else the setting's; 0 stops it at once)."""
    await _subscriber(request)
    body = await parse_body(request, RotateRequest, empty_allowed=True)
    grace = body.graceSeconds
    if grace is None:
        grace = request.app[SETTINGS].rotation_grace_seconds
    now = time.time()
    rotated = await _changed(request, lambda current: current.rotated(now, grace))
    return _json(rotated.view(now))


async def enable(request: web.Request) -> web.Response:
    """Enabled, then unparked: its held deliveries go out now and its run of failures is
    over (the first failure after enabling does not disable it again)."""
    await _subscriber(request)
    enabled = await _changed(request, lambda current: current.enable())
    await request.app[ENGINE].deliveries.unpark(enabled.id, time.time())
    request.app[DELIVERY].wake()
    return _json(enabled.view(time.time()))


async def deliveries(request: web.Request) -> web.Response:
    """The attempt log, newest first. `status=dead` lists the dead letters instead: every
    dead delivery still kept for replay (newest event first), each once, by its last
    attempt, even after the attempt log has moved on past it."""
    subscriber = await _subscriber(request)
    page = parse_query(request, DeliveriesQuery)
    status = page.status
    queue = request.app[ENGINE].deliveries
    if status == "dead":
        letters = await _all_dead_letters(queue, subscriber.id)
        return _json(page.of([letter.record for letter in reversed(letters)]))
    records = await queue.attempts(subscriber.id)
    if status is not None:
        records = [record for record in records if record["status"] == status]
    return _json(page.of(records))


async def send_example(request: web.Request) -> web.Response:
    """An example event of the asked type, signed in the subscriber's format and sent now;
    the attempt as `/deliveries` would record it, plus its latency and the start of the
    response. Nothing is stored or queued."""
    subscriber = await _subscriber(request)
    body = await parse_body(request, ExampleRequest, empty_allowed=True)
    sender = request.app[DELIVERY].sender
    if sender is None:
        raise Unavailable("the delivery sender has not started")
    now = time.time()
    event_id = example_event_id()
    activity = example_activity(body.eventType, subscriber.hub_ids, event_id, now)
    outbound = render(subscriber, event_id, orjson.dumps(activity), now)
    started = time.perf_counter()
    result = await sender.send(subscriber.url, outbound)
    latency_ms = (time.perf_counter() - started) * 1000
    succeeded = result.status is not None and 200 <= result.status < 300
    delivery = QueuedDelivery(event_id, subscriber.id, event_id, outbound.body)
    record = attempt_record(
        delivery,
        1,
        "succeeded" if succeeded else "failed",
        result.status,
        result.error,
        now,
        None,
    )
    excerpt = result.body_start.decode(errors="replace") if result.status is not None else None
    return _json({**record, "latencyMs": round(latency_ms, 3), "responseExcerpt": excerpt})


async def _all_dead_letters(queue: DeliveryQueue, subscriber_id: str) -> list[DeadLetter]:
    """Every dead letter kept (the engine's caps bound them), read a batch at a time."""
    letters: list[DeadLetter] = []
    while True:
        after = letters[-1].event_id if letters else ""
        batch = await queue.dead_letters(subscriber_id, after, DEAD_LETTER_BATCH)
        letters.extend(batch)
        if len(batch) < DEAD_LETTER_BATCH:
            return letters


async def replay_range(request: web.Request) -> web.Response:
    subscriber = await _subscriber(request)
    body = await parse_body(request, ReplayRequest)
    count = await replay(request.app[ENGINE], subscriber, body.after_cursor(), body.last_id())
    request.app[DELIVERY].wake()
    return _json({"enqueued": count}, 202)


TAG = "Subscribers"
SUBSCRIBER = Answer(200, "The subscriber.", SubscriberView)
FOUND = ("not_found", "unavailable")
"""Every route of one subscriber: it may not exist, and the registry may be unreachable."""

ROUTES = (
    Route(
        "POST",
        "/subscribers",
        create,
        access="admin",
        name="createSubscriber",
        summary="Create a subscriber; its signing credentials are generated unless given.",
        operation=Operation(
            TAG,
            (Answer(201, "The subscriber, with its credentials.", SubscriberView),),
            errors=("unavailable",),
            body=Body(SubscriberCreate),
        ),
    ),
    Route(
        "GET",
        "/subscribers",
        list_all,
        access="admin",
        name="listSubscribers",
        summary="Subscribers in Hubster paging.",
        operation=Operation(
            TAG,
            (Answer(200, "One page of subscribers.", SubscriberPage),),
            errors=("invalid_payload", "unavailable"),
            query=PageQuery,
        ),
    ),
    Route(
        "GET",
        "/subscribers/{subscriber_id}",
        get,
        access="admin",
        name="getSubscriber",
        summary="One subscriber with its credentials.",
        operation=Operation(TAG, (SUBSCRIBER,), errors=FOUND),
    ),
    Route(
        "PATCH",
        "/subscribers/{subscriber_id}",
        update,
        access="admin",
        name="updateSubscriber",
        summary="Change url, filters, ordering, rate or description.",
        operation=Operation(TAG, (SUBSCRIBER,), errors=FOUND, body=Body(SubscriberChanges)),
    ),
    Route(
        "DELETE",
        "/subscribers/{subscriber_id}",
        delete,
        access="admin",
        name="deleteSubscriber",
        summary="Delete a subscriber and drop its queued deliveries.",
        operation=Operation(TAG, (Answer(204, "Deleted."),), errors=FOUND),
    ),
    Route(
        "POST",
        "/subscribers/{subscriber_id}/rotate",
        rotate,
        access="admin",
        name="rotateSubscriber",
        summary="New credentials; the previous ones sign too for the grace (graceSeconds).",
        operation=Operation(
            TAG,
            (Answer(200, "The subscriber with its new credentials.", SubscriberView),),
            errors=FOUND,
            body=Body(RotateRequest, required=False),
            description="Until `previousSecretExpiresAt` (`graceSeconds` from now, by default "
            "`GATEWAY_ROTATION_GRACE_SECONDS`) standard deliveries carry a signature by each "
            "secret; hubster deliveries are signed with the new key pair, named by "
            "`x-hubster-public-key`.",
        ),
    ),
    Route(
        "POST",
        "/subscribers/{subscriber_id}/enable",
        enable,
        access="admin",
        name="enableSubscriber",
        summary="Re-enable a disabled subscriber.",
        operation=Operation(TAG, (SUBSCRIBER,), errors=FOUND),
    ),
    Route(
        "POST",
        "/subscribers/{subscriber_id}/test",
        send_example,
        access="admin",
        name="testSubscriber",
        summary="Send an example event of a type now, signed in the subscriber's format.",
        operation=Operation(
            TAG,
            (Answer(200, "The attempt, whatever the subscriber answered.", ExampleAttempt),),
            errors=FOUND,
            body=Body(ExampleRequest, required=False),
            description="The example goes out at once, through the delivery sender and its "
            "SSRF guard, whether or not the subscriber's filters take that type or it is "
            "enabled. It is not stored, queued, retried or listed in `/deliveries`; its id "
            "(`example-...`) is no event's.",
        ),
    ),
    Route(
        "GET",
        "/subscribers/{subscriber_id}/deliveries",
        deliveries,
        access="admin",
        name="listSubscriberDeliveries",
        summary="Delivery attempts (or dead letters), newest first, in Hubster paging.",
        operation=Operation(
            TAG,
            (Answer(200, "One page of attempt records.", AttemptPage),),
            errors=(*FOUND, "invalid_payload"),
            query=DeliveriesQuery,
        ),
    ),
    Route(
        "POST",
        "/subscribers/{subscriber_id}/replay",
        replay_range,
        access="admin",
        name="replaySubscriber",
        summary="Deliver the stored events of a range again.",
        operation=Operation(
            TAG,
            (Answer(202, "Queued.", ReplayEnqueued),),
            errors=FOUND,
            body=Body(ReplayRequest),
            description="Every stored event of the range that the subscriber's filters take "
            "is delivered again: new attempts, the same `webhook-id`.",
        ),
    ),
)
