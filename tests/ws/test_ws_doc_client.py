"""docs/websocket.md's minimal client, run as written against a real gateway: its first
connection asks for the last hour, then events arrive live."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from ws_helpers import activity, agent_token, publish

from tests.conftest import ROOT


def _documented_client() -> dict[str, Any]:
    text = (ROOT / "docs" / "websocket.md").read_text()
    section = text.split("## A minimal client", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)  # noqa: S102 - the documentation's own example
    return namespace


async def test_the_documented_client_gets_history_then_live_events(make_gateway: Any) -> None:
    client = _documented_client()
    printed: list[tuple[Any, ...]] = []
    client["print"] = lambda *args: printed.append(args)  # what the example prints
    gw = await make_gateway()
    await publish(gw.engine, [activity("hub-a", "conv-1", kind="receipt:read")])
    url = str(gw.client.make_url("/ws")).replace("http", "ws", 1)
    follow = asyncio.create_task(client["follow"](url, agent_token("ann", ["hub-a"])))
    try:
        async with asyncio.timeout(10):
            while not printed:
                await asyncio.sleep(0.01)
            assert printed == [("receipt:read", "conv-1")]
            await publish(gw.engine, [activity("hub-a", "conv-2")])
            while len(printed) < 2:
                await asyncio.sleep(0.01)
        assert printed[1] == ("message:customer", "conv-2")
    finally:
        follow.cancel()
