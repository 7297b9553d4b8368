"""`ready.lastEventId`: where a session went live, so a client that drops before its first
event resumes without missing any."""

from __future__ import annotations

import asyncio
from typing import Any

from ws_helpers import activity, agent_token, event_ids, next_frame, publish

from gateway.engine.events import StoredEvent
from gateway.ws.feature import WS_RUNTIME


async def fanned_out(gw: Any, event_id: str) -> None:
    """Wait for the fan-out loop to have published the event (over Redis it lags behind)."""
    router = gw.app[WS_RUNTIME].router
    async with asyncio.timeout(5):
        while router.live_from is None or router.live_from < event_id:
            await asyncio.sleep(0.01)


async def test_a_session_that_saw_nothing_resumes_from_its_ready_cursor(
    make_gateway: Any,
) -> None:
    gw = await make_gateway()
    token = agent_token("ann", ["hub-a"])
    [before] = await publish(gw.engine, [activity("hub-a", "c1", seq=0)])
    await fanned_out(gw, before.id)  # else it is still to come live, and resumed: 4 events
    ws, ready = await gw.session(token)
    await ws.close()  # dropped before any event
    missed = await publish(gw.engine, [activity("hub-a", "c1", seq=n) for n in range(1, 4)])

    again = await gw.connect()
    await again.send_json({"type": "auth", "token": token, "lastEventId": ready["lastEventId"]})
    assert (await next_frame(again))["type"] == "ready"
    assert await event_ids(again, 3) == [event.id for event in missed]
    assert (await next_frame(again, "recovered"))["count"] == 3
    await again.close()


async def test_every_event_after_the_ready_cursor_arrives_while_events_keep_coming(
    make_gateway: Any,
) -> None:
    gw = await make_gateway()
    stored: list[StoredEvent] = []
    stop = asyncio.Event()

    async def keep_publishing() -> None:
        seq = 0
        while not stop.is_set():
            stored.extend(await publish(gw.engine, [activity("hub-a", "c1", seq=seq)]))
            seq += 1
            await asyncio.sleep(0.0005)

    publishing = asyncio.create_task(keep_publishing())
    try:
        await asyncio.sleep(0.05)
        sessions = [await gw.session(agent_token(f"agent-{n}", ["hub-a"])) for n in range(5)]
        await asyncio.sleep(0.05)
    finally:
        stop.set()
        await publishing
    for ws, ready in sessions:
        expected = [event.id for event in stored if event.id > ready["lastEventId"]]
        assert expected, "events were published after the session went live"
        assert await event_ids(ws, len(expected)) == expected
        await ws.close()
