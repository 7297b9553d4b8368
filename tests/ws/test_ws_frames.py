"""An open session's frames: subscribe, refresh, ping/pong, malformed input, expiry, shutdown."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import aiohttp
import orjson
import pytest
from ws_helpers import activity, agent_token, closed_with, next_frame, publish


def _epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


async def test_subscribe_narrows_within_the_token(make_gateway: Any) -> None:
    gw = await make_gateway()
    ws, _ = await gw.session(agent_token("ann", ["hub-a", "hub-b"]))
    await ws.send_json({"type": "subscribe", "hubIds": ["hub-a"], "events": ["message"]})
    subscribed = await next_frame(ws, "subscribed")
    assert subscribed == {
        "type": "subscribed",
        "hubIds": ["hub-a"],
        "conversationIds": None,
        "events": ["message"],
    }
    stored = await publish(
        gw.engine,
        [
            activity("hub-b", "c1"),
            activity("hub-a", "c1", kind="receipt:delivered"),
            activity("hub-a", "c1", kind="message:agent"),
        ],
    )
    assert (await next_frame(ws, "event"))["event"]["id"] == stored[2].id

    await ws.send_json({"type": "subscribe", "hubIds": ["hub-a", "hub-z"]})
    denied = await next_frame(ws, "error")
    assert denied["error"]["code"] == "access_denied"
    assert "hub-z" in denied["error"]["message"]
    await ws.send_json({"type": "subscribe", "conversationIds": ["c2"]})
    subscribed = await next_frame(ws, "subscribed")
    assert subscribed["hubIds"] == ["hub-a"]
    assert subscribed["conversationIds"] == ["c2"]
    assert subscribed["events"] == ["message"]
    stored = await publish(
        gw.engine,
        [activity("hub-b", "c2"), activity("hub-a", "c1"), activity("hub-a", "c2")],
    )
    assert (await next_frame(ws, "event"))["event"]["id"] == stored[2].id
    await ws.close()


async def test_subscribe_cannot_leave_a_conversation_narrowed_token(make_gateway: Any) -> None:
    gw = await make_gateway()
    ws, _ = await gw.session(agent_token("ann", ["hub-a"], conversations=["c1", "c2"]))
    await ws.send_json({"type": "subscribe", "conversationIds": ["c1", "c3"]})
    assert (await next_frame(ws, "error"))["error"]["code"] == "access_denied"
    stored = await publish(
        gw.engine, [activity("hub-a", "c3"), activity("hub-a", "c2"), activity("hub-a", "c1")]
    )
    got = [(await next_frame(ws, "event"))["event"]["id"] for _ in range(2)]
    assert got == [stored[1].id, stored[2].id]
    await ws.close()


async def test_refresh_extends_and_a_bad_refresh_changes_nothing(make_gateway: Any) -> None:
    gw = await make_gateway()
    ws, ready = await gw.session(agent_token("ann", ["hub-a"], ttl=120))
    await ws.send_json({"type": "refresh", "token": "garbage"})
    assert (await next_frame(ws, "error"))["error"]["code"] == "unauthorized"
    await ws.send_json({"type": "refresh", "token": agent_token("bob", ["hub-a"], ttl=900)})
    assert (await next_frame(ws, "error"))["error"]["code"] == "unauthorized"
    await ws.send_json({"type": "refresh", "token": agent_token("ann", ["hub-a"], ttl=900)})
    refreshed = await next_frame(ws, "refreshed")
    assert _epoch(refreshed["expiresAt"]) == pytest.approx(time.time() + 900, abs=5)
    assert _epoch(refreshed["expiresAt"]) > _epoch(ready["expiresAt"])
    await ws.close()


async def test_expiry_without_refresh_closes_4001(make_gateway: Any) -> None:
    gw = await make_gateway(ws_refresh_grace_seconds=0.3)
    ws, _ = await gw.session(agent_token("ann", ["hub-a"], ttl=0.5))
    await ws.send_json({"type": "refresh", "token": "garbage"})
    assert (await next_frame(ws, "error"))["error"]["code"] == "unauthorized"
    expired = await next_frame(ws, "error")
    assert expired["error"]["code"] == "expired_token"
    assert expired["error"]["message"]
    assert await closed_with(ws) == 4001


async def test_refresh_within_the_grace_keeps_the_session(make_gateway: Any) -> None:
    gw = await make_gateway(ws_refresh_grace_seconds=0.5)
    ws, _ = await gw.session(agent_token("ann", ["hub-a"], ttl=0.3))
    assert (await next_frame(ws, "error"))["error"]["code"] == "expired_token"
    await ws.send_json({"type": "refresh", "token": agent_token("ann", ["hub-a"], ttl=60)})
    await next_frame(ws, "refreshed")
    await asyncio.sleep(0.8)
    stored = await publish(gw.engine, [activity("hub-a", "c1")])
    assert (await next_frame(ws, "event"))["event"]["id"] == stored[0].id
    assert not ws.closed
    await ws.close()


async def test_ping_frames_every_heartbeat_and_pong_accepted(make_gateway: Any) -> None:
    gw = await make_gateway(ws_heartbeat_seconds=0.15)
    ws, ready = await gw.session(agent_token("ann", ["hub-a"]))
    assert ready["heartbeatSeconds"] == 0.15
    for _ in range(3):
        assert await next_frame(ws, "ping") == {"type": "ping"}
        await ws.send_json({"type": "pong"})
    stored = await publish(gw.engine, [activity("hub-a", "c1")])
    assert (await next_frame(ws, "event"))["event"]["id"] == stored[0].id
    await ws.close()


async def test_dead_connection_is_reaped_by_protocol_heartbeat(make_gateway: Any) -> None:
    gw = await make_gateway(ws_heartbeat_seconds=0.2)
    ws, _ = await gw.session(agent_token("ann", ["hub-a"]), autoping=False)
    assert gw.metric("gateway_ws_sessions") == 1
    deadline = time.monotonic() + 5
    while gw.metric("gateway_ws_sessions") and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert gw.metric("gateway_ws_sessions") == 0
    await ws.close()


@pytest.mark.parametrize(
    "frame",
    [
        b"{not json",
        b"[1, 2]",
        b'"subscribe"',
        b'{"type": "dance"}',
        b'{"hubIds": ["hub-a"]}',
        b'{"type": "status", "status": "asleep"}',
        b'{"type": "subscribe", "events": ["bogus"]}',
        b'{"type": "subscribe", "hubIds": "hub-a"}',
        orjson.dumps({"type": "auth", "token": "again"}),
    ],
    ids=[
        "not-json",
        "array",
        "string",
        "unknown-type",
        "no-type",
        "bad-status",
        "bad-filter",
        "hubs-not-list",
        "second-auth",
    ],
)
async def test_malformed_frames_close_4400(make_gateway: Any, frame: bytes) -> None:
    gw = await make_gateway()
    ws, _ = await gw.session(agent_token("ann", ["hub-a"]))
    await ws.send_str(frame.decode())
    assert (await next_frame(ws, "error"))["error"]["code"] == "invalid_payload"
    assert await closed_with(ws) == 4400


async def test_binary_frame_closes_4400(make_gateway: Any) -> None:
    gw = await make_gateway()
    ws, _ = await gw.session(agent_token("ann", ["hub-a"]))
    await ws.send_bytes(b'{"type": "pong"}')
    assert await closed_with(ws) == 4400


async def test_shutdown_closes_every_websocket_1012(make_gateway: Any) -> None:
    gw = await make_gateway()
    sessions = [await gw.session(agent_token(f"agent-{n}", ["hub-a"])) for n in range(3)]
    unauthenticated = await gw.connect()
    await gw.client.server.close()
    for ws, _ in sessions:
        assert await closed_with(ws) == 1012
    assert await closed_with(unauthenticated) == 1012
    assert isinstance(unauthenticated, aiohttp.ClientWebSocketResponse)


@pytest.mark.parametrize(
    "text_size", [0, 20_000, 70_000, 300_000], ids=["16-bit", "16-bit-split", "64-bit", "600k"]
)
async def test_event_frames_of_every_length_class_arrive_intact(
    make_gateway: Any, text_size: int
) -> None:
    """Frames are written by the gateway itself (7-bit lengths are the ping frames)."""
    gw = await make_gateway()
    ws, _ = await gw.session(agent_token("ann", ["hub-a"]), max_msg_size=1 << 21)
    body = activity("hub-a", "c1", text="é" * text_size)
    stored = await publish(gw.engine, [body])
    event = (await next_frame(ws, "event"))["event"]
    assert event == {"id": stored[0].id, **body}
    await ws.close()


async def test_refresh_with_an_absurd_exp_is_unauthorized_and_changes_nothing(
    make_gateway: Any,
) -> None:
    gw = await make_gateway()
    ws, ready = await gw.session(agent_token("ann", ["hub-a"], ttl=120))
    for exp in (10**15, 253402300800, str(int(time.time()) + 900)):
        await ws.send_json({"type": "refresh", "token": agent_token("ann", ["hub-a"], exp=exp)})
        assert (await next_frame(ws, "error"))["error"]["code"] == "unauthorized"
    await ws.send_json({"type": "refresh", "token": agent_token("ann", ["hub-a"], ttl=900)})
    refreshed = await next_frame(ws, "refreshed", "error")
    assert refreshed["type"] == "refreshed"
    assert _epoch(refreshed["expiresAt"]) > _epoch(ready["expiresAt"])
    await ws.close()


async def test_refresh_with_a_token_already_expired_is_refused(make_gateway: Any) -> None:
    """Within the leeway an expired token still verifies, but it extends nothing: the old
    expiry stands and the session still closes 4001 after the grace."""
    gw = await make_gateway(ws_refresh_grace_seconds=0.4)
    ws, _ = await gw.session(agent_token("ann", ["hub-a"], ttl=0.3))
    assert (await next_frame(ws, "error"))["error"]["code"] == "expired_token"
    await ws.send_json({"type": "refresh", "token": agent_token("ann", ["hub-a"], ttl=-5)})
    refused = await next_frame(ws, "refreshed", "error")
    assert refused["error"]["code"] == "unauthorized"
    assert await closed_with(ws) == 4001
