"""Resume: replay after `lastEventId` while events keep arriving; none missing, none twice."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from ws_helpers import (
    FRAME_TIMEOUT,
    activity,
    agent_token,
    event_ids,
    next_frame,
    publish,
    small_receive_buffer,
)

from gateway.engine.base import Engine
from gateway.engine.events import StoredEvent
from gateway.engine.ids import event_id_at

HUBS = ["hub-a", "hub-b", "hub-c"]


class Publisher:
    """Appends events to random hubs in the background until stopped."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.stored: list[StoredEvent] = []
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        seq = 0
        while not self._stop.is_set():
            hub = HUBS[seq % 3]
            conversation = f"conv-{seq % 4}"
            self.stored += await publish(self.engine, [activity(hub, conversation, seq=seq)])
            seq += 1
            await asyncio.sleep(0.001)

    async def until(self, count: int) -> None:
        while len(self.stored) < count:
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        self._stop.set()
        await self._task


async def _resume(
    gw: Any, token: str, last_id: str, by_frame: bool
) -> aiohttp.ClientWebSocketResponse:
    if by_frame:
        ws = await gw.connect()
        await ws.send_json({"type": "auth", "token": token, "lastEventId": last_id})
        assert (await next_frame(ws))["type"] == "ready"
        return ws
    ws = await gw.client.ws_connect(
        "/ws", params={"lastEventId": last_id}, headers={"Authorization": f"Bearer {token}"}
    )
    assert (await next_frame(ws))["type"] == "ready"
    return ws


@pytest.mark.parametrize("by_frame", [False, True], ids=["query", "auth-frame"])
async def test_resume_while_events_keep_coming(make_gateway: Any, by_frame: bool) -> None:
    gw = await make_gateway()
    token = agent_token("ann", ["hub-a", "hub-b"], conversations=["conv-0", "conv-1", "conv-2"])

    def visible(event: StoredEvent) -> bool:
        return event.hub_id in {"hub-a", "hub-b"} and event.conversation_id != "conv-3"

    ws, _ = await gw.session(token)
    publisher = Publisher(gw.engine)
    try:
        first = await event_ids(ws, 10)
        await ws.close()
        await publisher.until(len(publisher.stored) + 250)
        ws = await _resume(gw, token, first[-1], by_frame)
        frames: list[dict[str, Any]] = []
        while not any(frame["type"] == "recovered" for frame in frames):
            frames.append(await next_frame(ws, "event", "recovered"))
        after_recovery = await event_ids(ws, 30)
    finally:
        await publisher.stop()

    recovered = frames[-1]
    replayed = [frame["event"]["id"] for frame in frames[:-1]]
    assert recovered == {"type": "recovered", "recovered": True, "count": len(replayed)}
    assert len(replayed) > 100
    expected = [event.id for event in publisher.stored if visible(event) and event.id > first[-1]]
    live = after_recovery + await event_ids(ws, len(expected) - len(replayed) - 30)
    assert replayed + live == expected
    assert live, "events published during the replay must arrive live"
    with pytest.raises(asyncio.TimeoutError):
        await next_frame(ws, "event", timeout=0.2)
    await ws.close()


async def test_resume_replays_more_than_a_batch_and_only_visible(make_gateway: Any) -> None:
    gw = await make_gateway()
    token = agent_token("ann", ["hub-a"])
    start = await publish(gw.engine, [activity("hub-a", "c1", seq=0)])
    stored = await publish(gw.engine, [activity(HUBS[n % 3], "c1", seq=n) for n in range(900)])
    ws = await _resume(gw, token, start[0].id, by_frame=False)
    expected = [event.id for event in stored if event.hub_id == "hub-a"]
    assert await event_ids(ws, len(expected)) == expected
    assert await next_frame(ws, "recovered") == {
        "type": "recovered",
        "recovered": True,
        "count": len(expected),
    }
    live = await publish(gw.engine, [activity("hub-a", "c1", seq=901)])
    assert await event_ids(ws, 1) == [live[0].id]
    await ws.close()


async def test_recovered_false_once_history_is_outrun(make_gateway: Any) -> None:
    gw = await make_gateway()
    token = agent_token("ann", ["hub-a"])
    old = await publish(gw.engine, [activity("hub-a", "c1", seq=n) for n in range(5)])
    await asyncio.sleep(0.01)
    assert await gw.engine.events.trim(int(time.time() * 1000), 1 << 30) == 5
    ws = await _resume(gw, token, old[1].id, by_frame=False)
    assert await next_frame(ws, "event", "recovered") == {
        "type": "recovered",
        "recovered": False,
        "count": 0,
    }
    live = await publish(gw.engine, [activity("hub-a", "c1", seq=9)])
    assert await event_ids(ws, 1) == [live[0].id]
    await ws.close()


async def test_resume_from_the_newest_event_replays_nothing(make_gateway: Any) -> None:
    gw = await make_gateway()
    stored = await publish(gw.engine, [activity("hub-a", "c1")])
    ws = await _resume(gw, agent_token("ann", ["hub-a"]), stored[0].id, by_frame=True)
    assert await next_frame(ws, "event", "recovered") == {
        "type": "recovered",
        "recovered": True,
        "count": 0,
    }
    with contextlib.suppress(asyncio.TimeoutError):
        frame = await next_frame(ws, "event", timeout=0.2)
        pytest.fail(f"nothing should be replayed or repeated, got {frame}")
    await ws.close()


async def slow_reader(gw: Any, last_event_id: str) -> ClientConnection:
    """ann resuming after `last_event_id` over a small receive window, reading only when
    the test reads (a slow link)."""
    host, port = str(gw.client.host), int(gw.client.port)
    return await connect(
        f"ws://{host}:{port}/ws?lastEventId={last_event_id}",
        additional_headers={"Authorization": f"Bearer {agent_token('ann', ['hub-a'])}"},
        sock=small_receive_buffer(host, port),
        compression=None,
        ping_interval=None,
        max_queue=4,
        max_size=None,
    )


async def test_resume_from_far_back_under_steady_publishing_is_not_too_slow(
    make_gateway: Any,
) -> None:
    """History many times the backlog limit, events arriving all through the replay, a
    client reading promptly through a small receive window: the live events parked
    meanwhile overflow the parking cap, yet the session is not closed 4008 and gets every
    event once, in order, with `recovered: true`."""
    gw = await make_gateway(ws_max_backlog_bytes=64 * 1024, send_buffer=16 * 1024)
    first = await publish(gw.engine, [activity("hub-a", "c1", seq=0)])
    history = [activity("hub-a", "c1", seq=n, text="y" * 300) for n in range(1, 1500)]
    await publish(gw.engine, history)
    stop = asyncio.Event()

    async def steady() -> None:
        seq = 2000
        while not stop.is_set():
            await publish(gw.engine, [activity("hub-a", "c1", seq=seq, text="z" * 300)])
            seq += 1
            await asyncio.sleep(0.002)

    publishing = asyncio.create_task(steady())
    try:
        client = await slow_reader(gw, first[0].id)
        frames: list[dict[str, Any]] = []
        while not frames or frames[-1]["type"] != "recovered":
            frames.append(orjson.loads(await asyncio.wait_for(client.recv(), FRAME_TIMEOUT)))
            if len(frames) % 10 == 0:
                await asyncio.sleep(0.001)
        live_before_stop = 0
        while live_before_stop < 20:
            frame = orjson.loads(await asyncio.wait_for(client.recv(), FRAME_TIMEOUT))
            frames.append(frame)
            live_before_stop += frame["type"] == "event"
    finally:
        stop.set()
        await publishing
    assert gw.metric("gateway_ws_slow_disconnects_total") == 0
    expected = [event.id for event in await gw.engine.events.read_after(first[0].id, 100_000)]
    while sum(frame["type"] == "event" for frame in frames) < len(expected):
        frames.append(orjson.loads(await asyncio.wait_for(client.recv(), FRAME_TIMEOUT)))
    await client.close()
    frames = [frame for frame in frames if frame["type"] in ("event", "recovered")]
    recovered_at = [frame["type"] for frame in frames].index("recovered")
    assert frames[recovered_at] == {"type": "recovered", "recovered": True, "count": recovered_at}
    assert [frame["event"]["id"] for frame in frames if frame["type"] == "event"] == expected
    assert recovered_at > len(history) + 1, "events published during the replay are replayed"


@pytest.mark.parametrize("by_frame", [False, True], ids=["query", "auth-frame"])
async def test_last_event_id_from_the_future_is_not_recovered(
    make_gateway: Any, by_frame: bool
) -> None:
    """An id newer than anything stored cannot be resumed from: `recovered: false`, and
    live events flow from where the store is (none skipped as 'already seen')."""
    gw = await make_gateway()
    await publish(gw.engine, [activity("hub-a", "c1", seq=0)])
    future = event_id_at(int(time.time() * 1000) + 3_600_000)
    ws = await _resume(gw, agent_token("ann", ["hub-a"]), future, by_frame)
    assert await next_frame(ws, "event", "recovered") == {
        "type": "recovered",
        "recovered": False,
        "count": 0,
    }
    live = await publish(gw.engine, [activity("hub-a", "c1", seq=n) for n in range(1, 4)])
    assert await event_ids(ws, 3) == [event.id for event in live]
    await ws.close()


async def test_a_refresh_is_answered_while_a_long_replay_waits_for_the_client(
    make_gateway: Any,
) -> None:
    """The replay runs beside the reading of client frames: a client slow to read its
    history still has its `refresh` answered before the replay ends (else its token could
    expire, and the session close 4001, in the middle of a replay)."""
    gw = await make_gateway(ws_max_backlog_bytes=64 * 1024, send_buffer=16 * 1024)
    first = await publish(gw.engine, [activity("hub-a", "c1", seq=0)])
    await publish(gw.engine, [activity("hub-a", "c1", seq=n, text="y" * 300) for n in range(1500)])
    client = await slow_reader(gw, first[0].id)
    await client.send(
        orjson.dumps({"type": "refresh", "token": agent_token("ann", ["hub-a"])}).decode()
    )
    await asyncio.sleep(0.3)  # the client reads nothing meanwhile
    types: list[str] = []
    while "recovered" not in types:
        types.append(orjson.loads(await asyncio.wait_for(client.recv(), FRAME_TIMEOUT))["type"])
    await client.close()
    assert types.count("event") == 1500
    assert types.index("refreshed") < types.index("recovered")
