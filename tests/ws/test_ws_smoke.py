from __future__ import annotations

from ws_helpers import activity, agent_token, next_frame, publish


async def test_ready_then_live_event(make_gateway) -> None:  # type: ignore[no-untyped-def]
    gw = await make_gateway()
    ws, ready = await gw.session(agent_token("ann", ["hub-a"], name="Ann"))
    assert ready["agentId"] == "ann"
    assert ready["hubIds"] == ["hub-a"]
    presence = await next_frame(ws)
    assert presence["type"] == "presence"
    stored = await publish(gw.engine, [activity("hub-a", "c1"), activity("hub-b", "c1")])
    frame = await next_frame(ws, "event")
    assert frame["event"]["id"] == stored[0].id
    await ws.close()
