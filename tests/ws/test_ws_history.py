"""Recent history on a first connection: `historySeconds` / `historyLimit` in the auth frame."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from ws_helpers import activity, agent_token, closed_with, event_ids, next_frame, publish

from gateway.engine.events import StoredEvent


async def _open(gw: Any, token: str, **fields: Any) -> aiohttp.ClientWebSocketResponse:
    ws = await gw.connect()
    await ws.send_json({"type": "auth", "token": token, **fields})
    assert (await next_frame(ws))["type"] == "ready"
    return ws


async def _replayed(ws: aiohttp.ClientWebSocketResponse) -> tuple[list[str], dict[str, Any]]:
    """The ids replayed before the `recovered` frame, and that frame."""
    ids: list[str] = []
    while True:
        frame = await next_frame(ws, "event", "recovered")
        if frame["type"] == "recovered":
            return ids, frame
        ids.append(frame["event"]["id"])


async def test_history_is_the_window_the_session_may_see_then_live(make_gateway: Any) -> None:
    gw = await make_gateway()
    await publish(gw.engine, [activity("hub-a", "c1", seq=0)])
    await asyncio.sleep(1.0)
    recent = await publish(
        gw.engine,
        [activity(hub, "c1", seq=n) for n, hub in enumerate(["hub-a", "hub-b", "hub-a"], 1)],
    )
    ws = await _open(gw, agent_token("ann", ["hub-a"]), historySeconds=0.5)
    ids, recovered = await _replayed(ws)
    assert ids == [recent[0].id, recent[2].id]
    assert recovered == {"type": "recovered", "recovered": True, "count": 2}
    live = await publish(gw.engine, [activity("hub-a", "c1", seq=9)])
    assert await event_ids(ws, 1) == [live[0].id]
    await ws.close()


async def test_history_limit_keeps_the_newest_visible_events_in_order(make_gateway: Any) -> None:
    gw = await make_gateway()
    stored = await publish(
        gw.engine, [activity("hub-a" if n % 2 else "hub-b", "c1", seq=n) for n in range(500)]
    )
    token = agent_token("ann", ["hub-a", "hub-b"])
    ws = await _open(gw, token, historySeconds=3600, historyLimit=3, events=["message"])
    ids, recovered = await _replayed(ws)
    assert ids == [event.id for event in stored[-3:]]
    assert recovered["count"] == 3
    await ws.close()

    narrowed = await _open(gw, token, historySeconds=3600, historyLimit=250, hubIds=["hub-a"])
    ids, _ = await _replayed(narrowed)
    assert ids == [event.id for event in stored if event.hub_id == "hub-a"]
    await narrowed.close()


async def test_history_of_an_empty_window_replays_nothing_and_goes_live(
    make_gateway: Any,
) -> None:
    gw = await make_gateway()
    ws = await _open(gw, agent_token("ann", ["hub-a"]), historySeconds=60)
    assert await _replayed(ws) == ([], {"type": "recovered", "recovered": True, "count": 0})
    live = await publish(gw.engine, [activity("hub-a", "c1")])
    assert await event_ids(ws, 1) == [live[0].id]
    with pytest.raises(asyncio.TimeoutError):
        await next_frame(ws, "event", timeout=0.2)
    await ws.close()


async def test_events_arriving_during_the_history_scan_arrive_once(make_gateway: Any) -> None:
    gw = await make_gateway()
    stored: list[StoredEvent] = await publish(
        gw.engine, [activity("hub-a", "c1", seq=n) for n in range(2000)]
    )
    stop = asyncio.Event()

    async def keep_publishing() -> None:
        seq = 5000
        while not stop.is_set():
            stored.extend(await publish(gw.engine, [activity("hub-a", "c1", seq=seq)]))
            seq += 1
            await asyncio.sleep(0.001)

    publishing = asyncio.create_task(keep_publishing())
    try:
        ws = await _open(gw, agent_token("ann", ["hub-a"]), historySeconds=60, historyLimit=50)
        ids, recovered = await _replayed(ws)
        await asyncio.sleep(0.05)
    finally:
        stop.set()
        await publishing
    assert recovered["count"] == len(ids) >= 50
    everything = [event.id for event in stored]
    start = everything.index(ids[0])
    live = await event_ids(ws, len(everything) - start - len(ids))
    assert ids + live == everything[start:]
    await ws.close()


async def test_lastevent_id_wins_over_history(make_gateway: Any) -> None:
    gw = await make_gateway()
    stored = await publish(gw.engine, [activity("hub-a", "c1", seq=n) for n in range(3)])
    ws = await _open(
        gw, agent_token("ann", ["hub-a"]), lastEventId=stored[1].id, historySeconds=3600
    )
    assert await _replayed(ws) == (
        [stored[2].id],
        {"type": "recovered", "recovered": True, "count": 1},
    )
    await ws.close()


@pytest.mark.parametrize(
    "fields",
    [{"historySeconds": 0}, {"historySeconds": 60, "historyLimit": 1001}, {"historySeconds": "x"}],
)
async def test_bad_history_fields_close_4400(make_gateway: Any, fields: dict[str, Any]) -> None:
    gw = await make_gateway()
    ws = await gw.connect()
    await ws.send_json({"type": "auth", "token": agent_token("ann", ["hub-a"]), **fields})
    error = await next_frame(ws, "error")
    assert error["error"]["code"] == "invalid_payload"
    assert await closed_with(ws) == 4400
