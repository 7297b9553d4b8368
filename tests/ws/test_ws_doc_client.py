"""docs/websocket.md's minimal client, run as written against a real gateway: its first
connection asks for the last hour, then events arrive live; after a history the gateway
could not find, it resumes from where it went live."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from ws_helpers import activity, agent_token, publish

from gateway.engine.memory import MemoryEngine
from tests.conftest import ROOT
from tests.running_gateway import TcpProxy


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


async def test_the_documented_client_resumes_from_where_it_went_live_after_a_lost_history(
    make_gateway: Any,
) -> None:
    """Moved to a gateway that never held its last event (`recovered: false`), it resumes
    the next time from where that session went live: what came while it was away arrives."""
    client = _documented_client()
    printed: list[tuple[Any, ...]] = []
    client["print"] = lambda *args: printed.append(args)
    first = await make_gateway()
    await publish(first.engine, [activity("hub-a", "first")])
    await asyncio.sleep(0.01)
    # Its history starts after that event (a gateway restarted without Redis, say).
    second = await make_gateway(MemoryEngine())
    proxy = TcpProxy(first.client.port)
    url = f"ws://127.0.0.1:{proxy.port}/ws"
    follow = asyncio.create_task(client["follow"](url, agent_token("ann", ["hub-a"])))

    async def until_printed(count: int) -> None:
        while len(printed) < count:
            await asyncio.sleep(0.01)

    try:
        async with asyncio.timeout(15):
            await until_printed(1)
            proxy.cut()
            proxy.target_port = second.client.port
            proxy.restore()
            await until_printed(2)
            assert printed[1] == ("missed events: reload the view",)
            proxy.cut()
            await publish(second.engine, [activity("hub-a", "while away")])
            proxy.restore()
            await until_printed(3)
    finally:
        follow.cancel()
        proxy.close()
    assert printed == [
        ("message:customer", "first"),
        ("missed events: reload the view",),
        ("message:customer", "while away"),
    ]
