"""`gateway-client.js` on its own, imported by a page on another origin (as a dashboard
would), against a real gateway; a TCP proxy in between cuts the network when asked."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import PageProblems
from tests.running_gateway import (
    RunningGateway,
    TcpProxy,
    agent_token,
    free_port,
    hubster_system,
    running,
)

NewPage = Callable[..., tuple[Page, PageProblems]]
WAIT_MS = 15000
GATEWAY_SETTINGS = {
    "GATEWAY_WS_HEARTBEAT_SECONDS": "1",
    "GATEWAY_JWT_LEEWAY_SECONDS": "0",
    "GATEWAY_WS_REFRESH_GRACE_SECONDS": "1",
}


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    with running(env=GATEWAY_SETTINGS) as gateway:
        yield gateway


def _hub() -> str:
    return f"hub-{uuid.uuid4().hex[:8]}"


def _poster(gateway: RunningGateway, hub: str) -> Callable[[str], None]:
    """Posts customer messages to `hub` through a new Hubster integration."""
    integration = gateway.integration("hubster-system", hub)

    def post(text: str) -> None:
        gateway.post(integration, hubster_system("c1", {"type": "text", "text": text}, hub=hub))

    return post


def _harness(
    new_page: NewPage, pages_origin: str, mint: Callable[[str], str] | None = None
) -> Page:
    page, _ = new_page()
    if mint is not None:
        page.expose_function("mintToken", mint)
    page.goto(f"{pages_origin}/client.html")
    page.wait_for_function("typeof window.startClient === 'function'")
    return page


def _start(page: Page, gateway_url: str, ws_url: str, **options: Any) -> None:
    page.evaluate(
        "([gatewayUrl, options]) => window.startClient(gatewayUrl, options)",
        [gateway_url, {"wsUrl": ws_url, **options}],
    )


def _record(page: Page, key: str, name: str = "client") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = page.evaluate(f"window.record.{key}")
    return [item for item in items if item.get("name", name) == name]


def _wait(page: Page, condition: str, name: str = "client") -> None:
    page.wait_for_function(f"(name) => {condition}", arg=name, timeout=WAIT_MS)


def _events(page: Page) -> int:
    return len(_record(page, "events"))


def test_history_then_resume_after_a_network_drop_with_heartbeats_answered(
    gateway: RunningGateway, new_page: NewPage, pages_origin: str
) -> None:
    hub = _hub()
    post = _poster(gateway, hub)
    post("before the page")
    proxy = TcpProxy(gateway.process.port)
    try:
        page = _harness(new_page, pages_origin)
        _start(
            page,
            gateway.url,
            f"ws://127.0.0.1:{proxy.port}/ws",
            name="client",
            token=agent_token("ann", [hub]),
            history={"seconds": 60},
        )
        _wait(page, "window.record.recovered.length === 1")
        post("live")
        _wait(page, "window.record.events.length === 2")
        _wait(page, "window.record.sent.some((frame) => frame.type === 'pong')")
        assert any(frame["type"] == "ping" for frame in _record(page, "received"))

        proxy.cut()
        _wait(page, "window.record.states.some((s) => s.state === 'reconnecting')")
        for n in range(3):
            post(f"while cut {n}")
        proxy.restore()
        _wait(page, "window.record.events.length === 5")
        post("after")
        _wait(page, "window.record.events.length === 6")
        states = [state["state"] for state in _record(page, "states")]
    finally:
        proxy.close()

    events = _record(page, "events")
    assert [event["replayed"] for event in events] == [True, False, True, True, True, False]
    ids = [event["id"] for event in events]
    assert ids == sorted(set(ids)), "in order, none twice"
    assert _record(page, "recovered") == [
        {"name": "client", "recovered": True, "count": 1, "history": True},
        {"name": "client", "recovered": True, "count": 3, "history": False},
    ]
    auths = [frame for frame in _record(page, "sent") if frame["type"] == "auth"]
    assert auths[0]["historySeconds"] == 60 and "lastEventId" not in auths[0]
    assert auths[-1]["lastEventId"] == ids[1] and "historySeconds" not in auths[-1]
    assert states[:2] == ["connecting", "open"] and states[-1] == "open"


def test_a_drop_before_the_first_event_loses_nothing(
    gateway: RunningGateway, new_page: NewPage, pages_origin: str
) -> None:
    hub = _hub()
    post = _poster(gateway, hub)
    proxy = TcpProxy(gateway.process.port)
    try:
        page = _harness(new_page, pages_origin)
        token = agent_token("ann", [hub])
        _start(page, gateway.url, f"ws://127.0.0.1:{proxy.port}/ws", name="client", token=token)
        _wait(page, "window.record.states.some((s) => s.state === 'open')")
        proxy.cut()
        _wait(page, "window.record.states.some((s) => s.state === 'reconnecting')")
        post("while away 1")
        post("while away 2")
        proxy.restore()
        _wait(page, "window.record.events.length === 2")
    finally:
        proxy.close()
    assert [event["replayed"] for event in _record(page, "events")] == [True, True]
    ready = next(frame for frame in _record(page, "received") if frame["type"] == "ready")
    auths = [frame for frame in _record(page, "sent") if frame["type"] == "auth"]
    assert auths[-1]["lastEventId"] == ready["lastEventId"]


def test_refreshes_the_token_before_it_expires(
    gateway: RunningGateway, new_page: NewPage, pages_origin: str
) -> None:
    hub = _hub()
    post = _poster(gateway, hub)
    minted: list[str] = []

    def mint(name: str) -> str:
        minted.append(name)
        return agent_token("ann", [hub], ttl=60)

    page = _harness(new_page, pages_origin, mint)
    url = f"ws://127.0.0.1:{gateway.process.port}/ws"
    short = agent_token(
        "ann", [hub], ttl=7
    )  # over the 5 s under which a connection refreshes first
    _start(page, gateway.url, url, name="refreshing", token=short, refresh=True)
    _start(page, gateway.url, url, name="plain", token=short)
    # Without a way to refresh, the session ends once the token and its grace are over.
    _wait(
        page, "window.record.states.some((s) => s.name === name && s.state === 'closed')", "plain"
    )
    post("after the first token expired")
    _wait(page, "window.record.events.some((e) => e.name === name)", "refreshing")

    assert minted == ["refreshing"]
    assert [s["state"] for s in _record(page, "states", "refreshing")] == ["connecting", "open"]
    assert _record(page, "states", "plain")[-1]["reason"] == "unauthorized"
    assert {"name": "plain", "code": "expired_token"} in _record(page, "errors", "plain")
    refreshes = [frame for frame in _record(page, "sent") if frame["type"] == "refresh"]
    assert len(refreshes) == 1 and refreshes[0]["token"] != short
    assert any(frame["type"] == "refreshed" for frame in _record(page, "received"))


def test_history_lost_in_a_restart_is_reported_as_not_recovered(
    new_page: NewPage, pages_origin: str
) -> None:
    hub = _hub()
    port = str(free_port())
    page = _harness(new_page, pages_origin)
    with running("--port", port) as first:
        _poster(first, hub)("before the restart")  # creates the integration, posts once
        _start(
            page,
            first.url,
            f"ws://127.0.0.1:{port}/ws",
            name="client",
            token=agent_token("ann", [hub]),
        )
        _wait(page, "window.record.states.some((s) => s.state === 'open')")
        _poster(first, hub)("seen")
        _wait(page, "window.record.events.length === 1")
        first.stop()
    _wait(page, "window.record.states.some((s) => s.state === 'reconnecting')")
    with running("--port", port) as second:
        _wait(page, "window.record.recovered.length === 1")
        _poster(second, hub)("after the restart")
        _wait(page, "window.record.events.length === 2")
        second.stop()
    assert _record(page, "recovered") == [
        {"name": "client", "recovered": False, "count": 0, "history": False}
    ]
    assert [event["replayed"] for event in _record(page, "events")] == [False, False]


def test_a_refused_token_is_replaced_once_and_a_flood_backs_off(
    gateway: RunningGateway, new_page: NewPage, pages_origin: str
) -> None:
    """After 4001 or 4003 the client asks the page for a new token once, never retrying the
    refused one and stopping when the new one is refused too; after 4429 (its own frame
    flood) it waits `rateLimitedMs` (10 s by default), not its quick backoff."""
    hub = _hub()
    bad, other_bad = (
        jwt.encode({"sub": "ann", "aud": "gateway", "exp": int(time.time()) + ttl}, "x" * 40)
        for ttl in (600, 601)
    )
    hubless, other_hubless = agent_token("ann", [], ttl=600), agent_token("ann", [], ttl=601)
    good, flooder = agent_token("ann", [hub]), agent_token("bob", [hub])
    replacements = {"forbidden": other_hubless, "same": bad, "fresh": good}
    minted: list[str] = []

    def mint(name: str) -> str:
        minted.append(name)
        return replacements[name]

    page = _harness(new_page, pages_origin, mint)
    url = f"ws://127.0.0.1:{gateway.process.port}/ws"
    for name, token in (("forbidden", hubless), ("same", bad), ("fresh", other_bad)):
        _start(page, gateway.url, url, name=name, token=token, refresh=True)
    _start(page, gateway.url, url, name="flooder", token=flooder)
    opened = "window.record.states.some((s) => s.name === name && s.state === 'open')"
    _wait(page, opened, "fresh")
    _wait(page, opened, "flooder")
    page.evaluate(
        "() => { for (let n = 0; n < 200; n++) "
        "window.clients.flooder.setStatus(n % 2 ? 'busy' : 'available'); }"
    )
    _wait(page, "window.record.states.some((s) => s.name === name && s.code === 4429)", "flooder")
    page.wait_for_timeout(1500)  # past the harness's quick backoff (at most 1 s)
    for name in ("forbidden", "same"):
        _wait(
            page, "window.record.states.some((s) => s.name === name && s.state === 'closed')", name
        )
    states = {
        name: [(s["state"], s["code"]) for s in _record(page, "states", name)]
        for name in ("forbidden", "same", "fresh", "flooder")
    }
    auths = Counter(frame["token"] for frame in _record(page, "sent") if frame["type"] == "auth")
    page.evaluate("() => Object.values(window.clients).forEach((client) => client.close())")

    assert sorted(minted) == ["forbidden", "fresh", "same"]
    assert auths == {hubless: 1, other_hubless: 1, bad: 1, other_bad: 1, good: 1, flooder: 1}
    assert states["forbidden"][-1] == ("closed", 4003)
    assert states["same"][-1] == ("closed", 4001)
    assert states["fresh"] == [
        ("connecting", None),
        ("reconnecting", 4001),
        ("connecting", None),
        ("open", None),
    ]
    assert states["flooder"][-1] == ("reconnecting", 4429)
    (backoff,) = [s["delayMs"] for s in _record(page, "states", "flooder") if s["code"] == 4429]
    assert backoff >= 10000
    assert {"name": "flooder", "code": "rate_limited"} in _record(page, "errors", "flooder")


def test_a_reconnection_asks_for_the_scope_the_gateway_confirmed(
    gateway: RunningGateway, new_page: NewPage, pages_origin: str
) -> None:
    """Narrowing merges as on the gateway, and a refused `subscribe` is not remembered."""
    kept, other = _hub(), _hub()
    proxy = TcpProxy(gateway.process.port)
    try:
        page = _harness(new_page, pages_origin)
        token = agent_token("ann", [kept, other])
        _start(page, gateway.url, f"ws://127.0.0.1:{proxy.port}/ws", name="client", token=token)
        _wait(page, "window.record.states.some((s) => s.state === 'open')")
        subscribed = "window.record.received.filter((f) => f.type === 'subscribed').length"
        page.evaluate(f"window.clients.client.subscribe({{hubIds: ['{kept}']}})")
        _wait(page, f"{subscribed} === 1")
        page.evaluate("window.clients.client.subscribe({events: ['message']})")
        _wait(page, f"{subscribed} === 2")
        page.evaluate("window.clients.client.subscribe({hubIds: ['not-granted']})")
        _wait(page, "window.record.errors.some((e) => e.code === 'access_denied')")
        proxy.cut()
        _wait(page, "window.record.states.some((s) => s.state === 'reconnecting')")
        proxy.restore()
        _wait(page, "window.record.received.filter((f) => f.type === 'ready').length === 2")
        _poster(gateway, other)("not in the scope")
        _poster(gateway, kept)("in the scope")
        _wait(page, "window.record.events.length === 1")
    finally:
        proxy.close()
    auth = [frame for frame in _record(page, "sent") if frame["type"] == "auth"][-1]
    assert (auth["hubIds"], auth["events"], "conversationIds" in auth) == (
        [kept],
        ["message"],
        False,
    )
    ready = [frame for frame in _record(page, "received") if frame["type"] == "ready"][-1]
    assert ready["hubIds"] == [kept]
    events = [frame["event"] for frame in _record(page, "received") if frame["type"] == "event"]
    assert [event["hubId"] for event in events] == [kept]
