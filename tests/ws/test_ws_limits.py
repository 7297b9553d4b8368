"""Limits against hostile websocket clients, each probed against a real `python -m gateway
serve` as the security review probed it (docs/security.md lists them), with the
in-process checks of where each limit lies."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
from ws_helpers import agent_token, bearer, closed_with, next_frame

from gateway.http.appkeys import METRICS
from gateway.ws import presence
from tests.running_gateway import ADMIN_KEY, RunningGateway, running
from tests.running_gateway import agent_token as process_token

MIB = 1024 * 1024


def rss_bytes(gateway: RunningGateway) -> int:
    status = Path(f"/proc/{gateway.process.proc.pid}/status").read_text()
    (line,) = [line for line in status.splitlines() if line.startswith("VmRSS:")]
    return int(line.split()[1]) * 1024


async def process_session(
    client: aiohttp.ClientSession, gateway: RunningGateway, agent_id: str, hubs: list[str]
) -> aiohttp.ClientWebSocketResponse:
    ws = await client.ws_connect(
        f"{gateway.url}/ws", headers=bearer(process_token(agent_id, hubs)), max_msg_size=0
    )
    assert (await next_frame(ws))["type"] == "ready"
    return ws


def refused(gw: Any, reason: str) -> float:
    """`gateway_ws_refused_total{reason}` of an in-process gateway."""
    value = gw.app[METRICS].registry.get_sample_value(
        "gateway_ws_refused_total", {"reason": reason}
    )
    return 0.0 if value is None else float(value)


async def metric(client: aiohttp.ClientSession, gateway: RunningGateway, sample: str) -> float:
    text = await (await client.get(f"{gateway.url}/metrics")).text()
    (line,) = [line for line in text.splitlines() if line.startswith(sample + " ")]
    return float(line.split()[1])


# --- websockets not yet authenticated: a cap --------------------------------------------

UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


async def test_upgrades_past_the_cap_on_unauthenticated_websockets_are_refused_503() -> None:
    """The review held sockets open without authenticating; each held a websocket for the
    auth timeout. Past `GATEWAY_WS_MAX_UNAUTHENTICATED` an upgrade without a bearer token is
    answered 503 in the error format before any upgrade; a bearer upgrade is authenticated
    already and never counted; a slot frees as soon as a waiting socket authenticates or
    goes."""
    env = {"GATEWAY_WS_MAX_UNAUTHENTICATED": "3", "GATEWAY_WS_AUTH_TIMEOUT_SECONDS": "30"}
    with running(env=env) as gateway:
        async with aiohttp.ClientSession() as client:
            waiting = [await client.ws_connect(f"{gateway.url}/ws") for _ in range(3)]
            refused = await client.get(f"{gateway.url}/ws", headers=UPGRADE)
            assert refused.status == 503
            assert (await refused.json())["error"]["code"] == "unavailable"
            assert refused.headers["Retry-After"] == "5"
            assert refused.headers["UC-REST-ERROR"]
            bearer_ws = await process_session(client, gateway, "bob", ["hub-a"])

            await waiting[0].send_json({"type": "auth", "token": process_token("ann", ["hub-a"])})
            assert (await next_frame(waiting[0]))["type"] == "ready"
            waiting.append(await client.ws_connect(f"{gateway.url}/ws"))
            await waiting[1].close()
            waiting.append(await client.ws_connect(f"{gateway.url}/ws"))
            again = await client.get(f"{gateway.url}/ws", headers=UPGRADE)
            assert again.status == 503

            samples = {
                'gateway_ws_refused_total{reason="unauthenticated_limit"}': 2,
                "gateway_ws_unauthenticated": 3,
                "gateway_ws_sessions": 2,
            }
            for sample, value in samples.items():
                assert await metric(client, gateway, sample) == value, sample
            for ws in [*waiting, bearer_ws]:
                await ws.close()


# --- client frames: a rate per session ---------------------------------------------------


async def rosters(ws: aiohttp.ClientWebSocketResponse, quiet: float) -> list[dict[str, str]]:
    """The hub-a rosters a session receives until none comes for `quiet` seconds."""
    received = []
    while True:
        try:
            frame = await next_frame(ws, "presence", timeout=quiet)
        except TimeoutError:
            return received
        if frame["hubId"] == "hub-a":
            received.append({agent["agentId"]: agent["status"] for agent in frame["agents"]})


async def test_a_status_flood_is_rate_limited_and_others_hear_a_handful_of_rosters() -> None:
    """The review's probe: one agent sends 200 `status` frames in a second; each of five
    other sessions used to receive 200 presence frames. Now the flooder is told
    `rate_limited` once its burst is spent, then closed 4429 as it goes on, and the others
    hear a handful of rosters (coalesced per hub), the last one the current roster."""
    with running() as gateway:
        async with aiohttp.ClientSession() as client:
            others = [
                await process_session(client, gateway, f"agent-{n}", ["hub-a"]) for n in range(5)
            ]
            flooder = await process_session(client, gateway, "flooder", ["hub-a"])
            everyone = {f"agent-{n}": "available" for n in range(5)} | {"flooder": "available"}

            async def settled(ws: aiohttp.ClientWebSocketResponse) -> None:
                while (await rosters(ws, quiet=1.0))[-1:] != [everyone]:
                    pass

            await asyncio.gather(*(settled(ws) for ws in others))
            heard = [asyncio.create_task(rosters(ws, quiet=2.0)) for ws in others]
            started = time.monotonic()
            for n in range(200):
                try:
                    await flooder.send_json(
                        {"type": "status", "status": ("busy", "available")[n % 2]}
                    )
                except ConnectionError:
                    break
                await asyncio.sleep(1 / 200)
            errors = []
            while True:
                message = await flooder.receive(timeout=5)
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                if '"error"' in message.data:
                    errors.append(message.json()["error"]["code"])
            assert errors == ["rate_limited"]
            assert flooder.close_code == 4429
            received = await asyncio.gather(*heard)
            seconds = time.monotonic() - started
            answer = await client.get(
                f"{gateway.url}/hubs/hub-a/presence",
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            current = {
                agent["agentId"]: agent["status"] for agent in (await answer.json())["agents"]
            }
            assert current == {f"agent-{n}": "available" for n in range(5)}
            allowed = presence.ROSTER_BURST + presence.ROSTERS_PER_SECOND * seconds
            for seen in received:
                assert 1 <= len(seen) <= allowed, (len(seen), allowed)
                assert seen[-1] == current
            refused = 'gateway_ws_refused_total{reason="rate_limited"}'
            assert await metric(client, gateway, refused) == 1
            for ws in others:
                await ws.close()


async def test_a_client_briefly_over_the_rate_is_warned_not_closed(make_gateway: Any) -> None:
    gw = await make_gateway(ws_client_frames_per_second=10)
    ws, _ = await gw.session(agent_token("ann", ["hub-a"]))
    for _ in range(21):  # the burst (20) and one more
        await ws.send_json({"type": "pong"})
    assert (await next_frame(ws, "error"))["error"]["code"] == "rate_limited"
    await asyncio.sleep(2.1)  # the whole burst back
    await ws.send_json({"type": "subscribe", "events": ["message"]})
    assert (await next_frame(ws, "subscribed", "error"))["type"] == "subscribed"
    assert not ws.closed
    await ws.close()
    assert refused(gw, "rate_limited") == 0


async def test_a_flood_that_goes_on_closes_4429(make_gateway: Any) -> None:
    gw = await make_gateway(ws_client_frames_per_second=10)
    ws, _ = await gw.session(agent_token("ann", ["hub-a"]))
    for _ in range(60):  # the burst, then more than a burst's worth more
        await ws.send_json({"type": "pong"})
    assert (await next_frame(ws, "error"))["error"]["code"] == "rate_limited"
    assert await closed_with(ws) == 4429
    assert refused(gw, "rate_limited") == 1


# --- frames the gateway refuses: one close code, 4400 ----------------------------------


async def test_an_oversized_or_non_utf8_frame_after_auth_closes_4400() -> None:
    """The review's probe: after auth, a frame over 64 KiB closed 1009 and invalid UTF-8
    1007 (aiohttp's own codes), where every frame the gateway refuses closes 4400 after an
    `invalid_payload` error frame."""
    with running() as gateway:
        async with aiohttp.ClientSession() as client:
            for frame in (b'{"type": "pong", "pad": "' + b"x" * 70_000 + b'"}', b'"\xff\xfe"'):
                ws = await process_session(client, gateway, "ann", ["hub-a"])
                await ws.send_frame(frame, aiohttp.WSMsgType.TEXT)
                error = await next_frame(ws, "error")
                assert error["error"]["code"] == "invalid_payload", error
                assert await closed_with(ws) == 4400


# --- filters: nothing kept of unbounded client input ------------------------------------


async def test_a_filter_flood_is_refused_and_leaves_no_memory_behind() -> None:
    """The review's probe: 100 `subscribe` frames, each a distinct 60 KB list of filters,
    had 24 MiB cached after the session closed. Each is now over the limits: refused with
    `invalid_payload`, the session as it was, and nothing kept."""
    with running(env={"GATEWAY_WS_CLIENT_FRAMES_PER_SECOND": "1000"}) as gateway:
        async with aiohttp.ClientSession() as client:
            ws = await process_session(client, gateway, "ann", ["hub-a"])
            before = rss_bytes(gateway)
            for n in range(100):
                filters = [f"message:{n}-{i}-{'x' * 90}" for i in range(600)]
                await ws.send_json({"type": "subscribe", "events": filters})
                answer = await next_frame(ws, "error", "subscribed")
                assert answer["type"] == "error", answer["type"]
                assert answer["error"] == {
                    "code": "invalid_payload",
                    "message": "events: at most 64 filters",
                }
            await ws.send_json({"type": "subscribe", "events": ["message"]})
            assert (await next_frame(ws, "subscribed", "error"))["events"] == ["message"]
            await ws.close()
        grown = rss_bytes(gateway) - before
        assert grown < 4 * MIB, f"{grown / MIB:.1f} MiB kept"


async def test_narrowing_over_the_limits_leaves_the_session_as_it_was(make_gateway: Any) -> None:
    gw = await make_gateway(ws_max_filters=2)
    ws, _ = await gw.session(agent_token("ann", ["hub-a", "hub-b"]))
    await ws.send_json({"type": "subscribe", "hubIds": ["hub-a"], "events": ["message"]})
    await next_frame(ws, "subscribed")
    for over in (
        {"events": ["message", "receipt", "event"]},
        {"events": ["message:" + "x" * 121]},
        {"conversationIds": [f"c{n}" for n in range(1001)]},
    ):
        await ws.send_json({"type": "subscribe", "hubIds": ["hub-b"], **over})
        error = await next_frame(ws, "error", "subscribed")
        assert error["error"]["code"] == "invalid_payload", error
    await ws.send_json({"type": "subscribe", "events": ["message", "receipt"]})
    assert await next_frame(ws, "subscribed") == {
        "type": "subscribed",
        "hubIds": ["hub-a"],
        "conversationIds": None,
        "events": ["message", "receipt"],
    }
    await ws.close()
