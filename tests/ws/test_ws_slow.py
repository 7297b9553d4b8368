"""A client that stops reading is closed 4008; the other sessions get every event."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest
import websockets
from websockets.asyncio.client import connect
from ws_helpers import activity, agent_token, next_frame, publish, small_receive_buffer

from tests.http.hostile_probes import metric
from tests.running_gateway import agent_token as process_token
from tests.running_gateway import hubster_system, running

BACKLOG_LIMIT = 256 * 1024
EVENT_TEXT = "x" * 8000
MAX_EVENTS = 8000


class Reader:
    """A normal client: reads every event frame as it comes."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ids: list[str] = []
        self._ws = ws
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            frame = await next_frame(self._ws, "event", timeout=30)
            self.ids.append(frame["event"]["id"])

    async def caught_up(self, count: int) -> None:
        while len(self.ids) < count:
            assert not self._task.done(), self._task
            await asyncio.sleep(0.001)

    def stop(self) -> None:
        self._task.cancel()


async def test_stuck_client_closed_4008_while_a_normal_client_gets_everything(
    make_gateway: Any,
) -> None:
    gw = await make_gateway(ws_max_backlog_bytes=BACKLOG_LIMIT)
    token = agent_token("ann", ["hub-a"])
    normal, _ = await gw.session(agent_token("bob", ["hub-a"]))
    reader = Reader(normal)
    host, port = str(gw.client.host), int(gw.client.port)  # type: ignore[arg-type]
    stuck = await connect(
        f"ws://{host}:{port}/ws",
        additional_headers={"Authorization": f"Bearer {token}"},
        sock=small_receive_buffer(host, port),
        max_queue=1,
        compression=None,
        ping_interval=None,
    )
    assert gw.metric("gateway_ws_sessions") == 2

    stored = []
    while gw.metric("gateway_ws_slow_disconnects_total") == 0 and len(stored) < MAX_EVENTS:
        bodies = [activity("hub-a", "c1", text=EVENT_TEXT, seq=len(stored) + n) for n in range(8)]
        stored += await publish(gw.engine, bodies)
        await reader.caught_up(len(stored))
    assert gw.metric("gateway_ws_slow_disconnects_total") == 1
    stored += await publish(gw.engine, [activity("hub-a", "c1", seq=n) for n in range(50)])
    await reader.caught_up(len(stored))
    reader.stop()
    assert reader.ids == [event.id for event in stored]
    assert gw.metric("gateway_ws_sessions") == 1

    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(stuck.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4008
    await normal.close()


async def test_one_event_larger_than_the_limit_reaches_a_client_that_keeps_up(
    make_gateway: Any,
) -> None:
    gw = await make_gateway(ws_max_backlog_bytes=16 * 1024)
    ws, _ = await gw.session(agent_token("ann", ["hub-a"]), max_msg_size=1 << 20)
    for n in range(3):
        stored = await publish(gw.engine, [activity("hub-a", "c1", text="y" * 100_000, seq=n)])
        assert (await next_frame(ws, "event"))["event"]["id"] == stored[0].id
    assert gw.metric("gateway_ws_slow_disconnects_total") == 0
    await ws.close()


async def test_a_websocket_behind_by_more_than_a_buffer_is_not_cut_by_the_send_deadline() -> None:
    """A real `python -m gateway serve` drops an HTTP connection whose client takes nothing
    of its answers for `GATEWAY_HTTP_SEND_TIMEOUT_SECONDS`; an agent websocket is not such
    a connection: it is bounded by its backlog in bytes (4008) and heartbeats. An agent that
    reads nothing for several send deadlines, its backlog within its (here large) limit,
    gets everything once it reads again."""
    env = {"GATEWAY_HTTP_SEND_TIMEOUT_SECONDS": "1", "GATEWAY_WS_MAX_BACKLOG_BYTES": str(16 << 20)}
    with running(env=env) as gateway:
        hub = "3bc1e69f-c520-446f-ab2c-01751fd66a31"
        integration = gateway.integration("hubster-system", hub)
        host, port = gateway.process.host, gateway.process.port
        token = process_token("ann", [hub])
        async with connect(
            f"ws://{host}:{port}/ws",
            additional_headers={"Authorization": f"Bearer {token}"},
            sock=small_receive_buffer(host, port),
            max_queue=1,
            compression=None,
            ping_interval=None,
        ) as ws:
            # 6 MB, past what the kernel buffers hold: the gateway's own buffer fills.
            texts = [f"{n} " + "x" * 100_000 for n in range(60)]
            for text in texts:
                message = {"type": "text", "text": text}
                await asyncio.to_thread(gateway.post, integration, hubster_system("c1", message))
            await asyncio.sleep(3)  # three send deadlines without reading
            received = []
            while len(received) < len(texts):
                frame = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame["type"] == "event":
                    received.append(frame["event"]["message"]["text"])
        assert received == texts
        refused = 'gateway_http_refused_total{reason="send_timeout"}'
        assert metric(gateway.process, refused) == 0
