"""Limits against hostile websocket clients, each probed against a real `python -m gateway
serve` as the security review probed it (docs/security.md lists them), with the
in-process checks of where each limit lies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from ws_helpers import agent_token, bearer, next_frame

from tests.running_gateway import RunningGateway, running
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


# --- filters: nothing kept of unbounded client input ------------------------------------


async def test_a_filter_flood_is_refused_and_leaves_no_memory_behind() -> None:
    """The review's probe: 100 `subscribe` frames, each a distinct 60 KB list of filters,
    had 24 MiB cached after the session closed. Each is now over the limits: refused with
    `invalid_payload`, the session as it was, and nothing kept."""
    with running() as gateway:
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
