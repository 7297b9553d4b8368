"""An unexpected error once the websocket is open closes it 1011, logged without the token:
never an HTTP 500 written into the websocket stream (fault injection at the engine)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest
from ws_helpers import agent_token, closed_with, next_frame

from gateway.engine.memory import MemoryEngine


class CrashingPresence:
    """The memory presence store, whose `join` raises a bug-like error while `crash` is set."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.crash = True

    async def join(self, hub_ids: Sequence[str], *args: Any) -> list[str]:
        if self.crash:
            raise RuntimeError("injected bug")
        result: list[str] = await self._inner.join(hub_ids, *args)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.mark.parametrize("by_frame", [False, True], ids=["bearer", "auth-frame"])
async def test_unexpected_error_after_the_upgrade_closes_1011(
    make_gateway: Any, caplog: pytest.LogCaptureFixture, by_frame: bool
) -> None:
    engine = MemoryEngine()
    presence = CrashingPresence(engine.presence)
    engine.presence = presence  # type: ignore[assignment]
    gw = await make_gateway(engine)
    token = agent_token("ann", ["hub-a"])
    caplog.set_level(logging.ERROR, logger="gateway.ws")
    if by_frame:
        ws = await gw.connect()
        await ws.send_json({"type": "auth", "token": token})
    else:
        ws = await gw.connect(token)
    assert (await next_frame(ws))["type"] == "ready"
    assert await closed_with(ws) == 1011
    assert "1011" in caplog.text
    assert "injected bug" in caplog.text
    assert token not in caplog.text
    assert gw.metric("gateway_ws_sessions") == 0

    presence.crash = False
    ws, _ = await gw.session(token)
    assert (await next_frame(ws, "presence"))["agents"][0]["agentId"] == "ann"
    await ws.close()
