"""SIGTERM on a real `python -m gateway serve`: open agent websockets are closed with 1012."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import aiohttp
from ws_helpers import JWT_SECRET, agent_token, closed_with, next_frame

ADMIN_KEY = "ws-process-admin-key-0123456789abcdef"


async def test_sigterm_closes_websockets_1012(gateway_factory: Any) -> None:
    gateway = gateway_factory(
        env={"GATEWAY_ADMIN_KEY": ADMIN_KEY, "GATEWAY_JWT_SECRET": JWT_SECRET}
    )
    token = agent_token("ann", ["hub-a"])
    async with aiohttp.ClientSession() as client:
        sockets = []
        for _ in range(2):
            ws = await client.ws_connect(
                f"{gateway.url}/ws", headers={"Authorization": f"Bearer {token}"}
            )
            assert (await next_frame(ws))["type"] == "ready"
            sockets.append(ws)
        gateway.proc.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*(closed_with(ws, timeout=15) for ws in sockets))
    assert codes == [1012, 1012]
    assert await asyncio.to_thread(gateway.proc.wait, 20) == 0
