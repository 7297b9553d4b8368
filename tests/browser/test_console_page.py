"""`GET /console` in real headless Chromium against a real `python -m gateway serve`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageProblems, png_data_url, screenshot
from tests.redis_support import RedisServer, fresh_prefix
from tests.running_gateway import (
    ADMIN_KEY,
    HUBSTER_TENANT,
    RunningGateway,
    agent_token,
    fixture_json,
    free_port,
    hubster_system,
    running,
)

NewPage = Callable[..., tuple[Page, PageProblems]]


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    with running() as gateway:
        yield gateway


def _hub(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def _open_console(page: Page, gateway: RunningGateway, token: str) -> None:
    page.goto(f"{gateway.url}/console#token={token}")
    expect(page.locator("#connection")).to_have_text("connected")


def _conversation(page: Page, hub: str, index: int = 0) -> Any:
    return page.locator(f'.hub[data-hub="{hub}"] button.conversation').nth(index)


def test_history_then_live_hubster_and_scg_conversations_with_a_receipt(
    gateway: RunningGateway, new_page: NewPage
) -> None:
    chat, sms = _hub("chat"), _hub("sms")
    hubster = gateway.integration("hubster-system", chat)
    scg = gateway.integration("scg", sms, username="scg", password="secret-password")
    # Before the page opens: shown from the recent history.
    gateway.post(
        hubster,
        hubster_system(
            "conv-olá", {"type": "text", "text": "Olá! Where is my order? 📦"}, hub=chat
        ),
    )

    page, _ = new_page()
    page.goto(f"{gateway.url}/console")
    page.fill("#token-input", agent_token("agent-1", [chat, sms], name="Ana"))
    page.click("#token-form button[type=submit]")
    expect(page.locator("#connection")).to_have_text("connected")
    expect(_conversation(page, chat)).to_contain_text("Ana Silva")
    expect(page.locator("#timeline-holder")).to_contain_text("Olá! Where is my order? 📦")

    # Live: an SCG MO, then the receipt of a message sent to the same number.
    gateway.post(scg, fixture_json("scg-mo-message.json"))
    gateway.post(scg, fixture_json("scg-receipt-delivered.json"))
    sms_conversation = _conversation(page, sms)
    expect(sms_conversation).to_contain_text("+14085551212")
    expect(sms_conversation).to_contain_text("receipt: delivered")
    sms_conversation.click()
    timeline = page.locator("#timeline-holder .timeline")
    expect(timeline.locator(".item.message")).to_have_text([re.compile(r"package coming today\?")])
    receipt = timeline.locator(".item.receipt")
    expect(receipt).to_have_attribute("data-state", "delivered")
    expect(receipt.locator(".state")).to_have_text("delivered")
    expect(receipt).to_contain_text("176ySDuGoChplVgiz2lcm7")
    expect(page.locator("#conversation-meta")).to_contain_text("SMS")
    screenshot(page, "console-sms-conversation")

    _conversation(page, chat).click()
    expect(page.locator("#timeline-holder")).to_contain_text("Olá! Where is my order? 📦")


def test_a_receipt_shows_on_the_message_it_reports(
    gateway: RunningGateway, new_page: NewPage
) -> None:
    hub = _hub("out")
    standard = gateway.integration("standard", hub)
    page, _ = new_page()
    _open_console(page, gateway, agent_token("agent-1", [hub]))
    sent = {"type": "text", "text": "Your order shipped", "id": "out-1"}
    gateway.post(standard, {"type": "message:agent", "conversationId": "c-out", "message": sent})
    message = page.locator('.timeline .item.message[data-message-ids="out-1"]')
    expect(message).to_contain_text("Your order shipped")
    for state in ("sent", "delivered"):
        receipt = {"messageId": "out-1", "state": state, "previousState": None}
        gateway.post(
            standard, {"type": f"receipt:{state}", "conversationId": "c-out", "receipt": receipt}
        )
        expect(message.locator(".receipt-badge")).to_have_attribute("data-state", state)
    expect(page.locator(".timeline .item.receipt")).to_have_count(2)


def test_newest_activity_first_and_typing(gateway: RunningGateway, new_page: NewPage) -> None:
    hub = _hub("chat")
    hubster = gateway.integration("hubster-system", hub)
    page, _ = new_page()
    _open_console(page, gateway, agent_token("agent-1", [hub]))
    for conversation in ("first", "second"):
        gateway.post(
            hubster, hubster_system(conversation, {"type": "text", "text": conversation}, hub=hub)
        )
        expect(_conversation(page, hub)).to_have_attribute("data-conversation", conversation)
    gateway.post(hubster, hubster_system("first", {"type": "text", "text": "first again"}, hub=hub))
    expect(_conversation(page, hub)).to_have_attribute("data-conversation", "first")
    expect(_conversation(page, hub, 1)).to_have_attribute("data-conversation", "second")

    typing = fixture_json("hubster-direct-event-typing.json")
    typing = {**typing, "hubId": hub, "conversationId": "first", "tenantId": HUBSTER_TENANT}
    direct = gateway.integration("hubster-direct", hub)
    gateway.post(direct, typing)
    _conversation(page, hub).click()
    expect(page.locator("#typing")).to_have_text("customer is typing…")


def test_every_message_type_and_consent_render(gateway: RunningGateway, new_page: NewPage) -> None:
    hub, sms = _hub("chat"), _hub("sms")
    hubster = gateway.integration("hubster-system", hub)
    scg = gateway.integration("scg", sms, bearerToken="scg-bearer-token")
    picture = png_data_url(96, 64, (36, 87, 214))
    page, _ = new_page(viewport={"width": 1200, "height": 960})
    _open_console(page, gateway, agent_token("agent-1", [hub, sms], name="Ana"))

    stop = fixture_json("scg-mo-message.json")
    stop["event"]["fld-val-list"]["message_body"] = "STOP"
    gateway.post(scg, stop)
    opted_out = _conversation(page, sms)
    expect(opted_out.locator(".badge")).to_have_text("opted out")
    opted_out.click()
    consent = page.locator(".timeline .item.consent")
    expect(consent).to_have_attribute("data-consent", "optout")
    expect(consent).to_contain_text("keyword STOP")
    gateway.post(
        hubster,
        hubster_system(
            "rich",
            {
                "type": "text",
                "text": "Can I change the address?",
                "actions": [
                    {"type": "link", "title": "Help centre", "url": "https://help.example.com/a"},
                    {"type": "reply", "title": "Yes", "payload": "yes"},
                    {"type": "link", "title": "sneaky", "url": "javascript:alert(1)"},
                ],
            },
            {"type": "image", "url": picture, "alt": "Shipping label", "title": "Your label"},
            {
                "type": "attachment",
                "label": "invoice.pdf",
                "mimeType": "application/pdf",
                "url": "https://files.example.com/invoice.pdf",
                "size": 48213,
            },
            {
                "type": "location",
                "address": "1 Harbour St",
                "latitude": 38.7223,
                "longitude": -9.1393,
            },
            {
                "type": "card",
                "title": "Order A-1029",
                "subtitle": "2 items",
                "content": "Ships today",
            },
            {"type": "carousel", "items": [{"title": "Blue mug"}, {"title": "Red mug"}]},
            {"type": "text", "text": "::transfer billing"},
            hub=hub,
        ),
    )
    _conversation(page, hub).click()
    timeline = page.locator("#timeline-holder .timeline")
    expect(timeline.locator(".item.message")).to_have_count(7)
    image = timeline.locator('.item[data-message-type="image"] img')
    expect(image).to_have_attribute("alt", "Shipping label")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 96", arg=image.element_handle()
    )
    expect(timeline.locator('.item[data-message-type="image"] figcaption')).to_have_text(
        "Your label"
    )
    links = timeline.locator(".actions a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://help.example.com/a")
    expect(links).to_have_attribute("rel", "noopener noreferrer")
    expect(timeline.locator(".actions .unsafe-link")).to_have_text("sneaky")
    expect(timeline.locator(".actions .action")).to_have_text("Yes")
    attachment = timeline.locator('.item[data-message-type="attachment"]')
    expect(attachment.locator("a")).to_have_attribute(
        "href", "https://files.example.com/invoice.pdf"
    )
    expect(attachment).to_contain_text("application/pdf · 47.1 KB")
    expect(timeline.locator('.item[data-message-type="location"]')).to_contain_text("1 Harbour St")
    expect(timeline.locator('.item[data-message-type="card"] strong')).to_have_text("Order A-1029")
    expect(timeline.locator('.item[data-message-type="carousel"] .card')).to_have_count(2)
    expect(timeline.locator("code.command")).to_have_text("::transfer billing")
    screenshot(page, "console-message-types")


def test_provider_markup_is_shown_as_text_and_never_runs(
    gateway: RunningGateway, new_page: NewPage
) -> None:
    hub = _hub("chat")
    hubster = gateway.integration("hubster-system", hub)
    hostile = (
        '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2; alert(1)">'
    )
    page, problems = new_page()
    _open_console(page, gateway, agent_token("agent-1", [hub]))
    assert "#" not in page.url, "the token must leave the address bar"
    body = hubster_system(
        "<b>conv</b>",
        {"type": "text", "text": hostile},
        {"type": "image", "url": "javascript:alert(2)", "alt": "<i>alt</i>", "title": hostile},
        hub=hub,
    )
    body["conversationProperties"] = {"profile": {"full name": "<img src=y onerror=alert(3)>"}}
    gateway.post(hubster, body)
    timeline = page.locator("#timeline-holder .timeline")
    expect(timeline.locator(".item.message .text")).to_have_text(hostile)
    expect(timeline.locator("figcaption")).to_have_text(hostile)
    expect(_conversation(page, hub).locator(".title")).to_have_text("<img src=y onerror=alert(3)>")
    page.wait_for_timeout(300)  # time for anything injected to have run
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert (
        page.locator("#app script, #app img[src=x], #app img[src=y], #app b, #app i").count() == 0
    )
    assert problems.dialogs == []


def test_status_set_in_one_page_shows_in_another_agents_page(
    gateway: RunningGateway, new_page: NewPage
) -> None:
    hub = _hub("team")
    ana, _ = new_page()
    _open_console(ana, gateway, agent_token("ana", [hub], name="Ana"))
    bob, _ = new_page()
    _open_console(bob, gateway, agent_token("bob", [hub], name="Bob"))
    ana_in_bobs_page = bob.locator(f'.hub[data-hub="{hub}"] [data-agent="ana"]')
    expect(ana_in_bobs_page).to_have_attribute("data-status", "available")
    expect(ana.locator(f'.hub[data-hub="{hub}"] [data-agent="bob"] .name')).to_have_text("Bob")

    ana.select_option("#status", "busy")
    expect(ana_in_bobs_page).to_have_attribute("data-status", "busy")
    expect(ana_in_bobs_page.locator(".status")).to_have_text("busy")
    screenshot(bob, "console-presence")

    ana.click("#sign-out")
    expect(ana_in_bobs_page).to_have_count(0)


def test_development_mint_with_the_admin_key(gateway: RunningGateway, new_page: NewPage) -> None:
    hub = _hub("dev")
    page, _ = new_page()
    page.goto(f"{gateway.url}/console")
    page.click("#dev-mint summary")
    page.fill("#mint-admin-key", "wrong-key")
    page.fill("#mint-agent", "dev-agent")
    page.fill("#mint-hubs", hub)
    page.click("#mint-form button[type=submit]")
    expect(page.locator("#banner-error")).to_contain_text("unauthorized")
    page.fill("#mint-admin-key", ADMIN_KEY)
    page.click("#mint-form button[type=submit]")
    expect(page.locator("#connection")).to_have_text("connected")
    expect(page.locator(f'.hub[data-hub="{hub}"] [data-agent="dev-agent"]')).to_have_count(1)
    assert page.locator("#mint-admin-key").input_value() == ""


def test_a_gateway_restart_shows_the_banners_then_new_events(
    new_page: NewPage, tmp_path: Path
) -> None:
    hub = _hub("sms")
    config = tmp_path / "gateway.toml"
    config.write_text(
        "[[integrations]]\n"
        'integrationId = "sms-1"\nname = "SMS"\nkind = "scg"\n'
        f'hubId = "{hub}"\ntenantId = "acme"\n'
        'configuration = { username = "scg", password = "secret-password" }\n'
    )
    port = str(free_port())
    gateway = running("--config", str(config), "--port", port)
    with gateway as first:
        scg = first.admin("GET", "/integrations/sms-1")
        page, _ = new_page()
        _open_console(page, first, agent_token("agent-1", [hub]))
        first.post(scg, fixture_json("scg-mo-message.json"))
        expect(_conversation(page, hub)).to_contain_text("Is my package coming today?")
        first.stop()
    expect(page.locator("#banner-reconnecting")).to_be_visible()
    expect(page.locator("#connection")).to_have_text("reconnecting…")
    screenshot(page, "console-reconnecting")
    with running("--config", str(config), "--port", port) as second:
        expect(page.locator("#banner-reconnecting")).to_be_hidden(timeout=20000)
        expect(page.locator("#connection")).to_have_text("connected")
        # The memory engine kept nothing across the restart: the page is told so.
        expect(page.locator("#banner-history")).to_be_visible()
        second.post(scg, fixture_json("scg-receipt-delivered.json"))
        expect(page.locator(".timeline .item.receipt")).to_have_attribute("data-state", "delivered")
        page.click("#reload")
        expect(page.locator("#banner-history")).to_be_hidden()
        expect(page.locator(".timeline .item.receipt")).to_have_count(1)
        second.stop()


def test_with_redis_a_restart_brings_the_events_posted_while_the_page_was_away(
    new_page: NewPage, redis_server: RedisServer
) -> None:
    """Another process on the same Redis takes webhooks while the page's gateway is down; the
    restarted gateway replays them to the page, in order, once, with nothing lost."""
    hub = _hub("chat")
    env = {"GATEWAY_REDIS_URL": redis_server.url, "GATEWAY_REDIS_KEY_PREFIX": fresh_prefix()}
    port = str(free_port())
    texts = ["before", "while away 1", "while away 2", "while away 3", "after the restart"]
    page, _ = new_page()
    messages = page.locator("#timeline-holder .timeline .item.message")
    with running("--port", port, env=env) as first:
        hubster = first.integration("hubster-system", hub)

        def post(gateway: RunningGateway, text: str) -> None:
            gateway.post(hubster, hubster_system("c1", {"type": "text", "text": text}, hub=hub))

        _open_console(page, first, agent_token("agent-1", [hub]))
        post(first, texts[0])
        expect(messages).to_have_count(1)
        first.stop()
    expect(page.locator("#banner-reconnecting")).to_be_visible()
    with running(env=env) as other:  # another process, on another port
        for text in texts[1:4]:
            post(other, text)
        other.stop()
    with running("--port", port, env=env) as restarted:
        expect(page.locator("#banner-reconnecting")).to_be_hidden(timeout=20000)
        post(restarted, texts[4])  # live: it comes after the replay and its `recovered`
        expect(messages).to_have_text([re.compile(re.escape(text)) for text in texts])
        expect(page.locator("#banner-history")).to_be_hidden()
        restarted.stop()


BOUNDS = """async () => {
  const { Board } = await import("/console/board.js");
  const board = new Board("agent-1");
  const at = new Date().toISOString();
  const message = (n, conversationId) => ({
    id: `1700000000000-${String(n).padStart(6, "0")}`, type: "message:customer", hubId: "cap",
    conversationId, occurredAt: at, sender: { role: "customer", id: "c" },
    message: { type: "text", text: `#${n}`, id: `m-${n}` },
  });
  for (let n = 0; n < 600; n++) board.add(message(n, `conv-${n}`), { replayed: false });
  const hub = board.hubs.get("cap");
  const busy = hub.conversations.get("conv-599");
  for (let n = 600; n < 1200; n++) board.add(message(n, "conv-599"), { replayed: false });
  return {
    conversations: hub.conversations.size, listed: hub.list.childElementCount,
    selected: board.selected.id, kept: hub.conversations.has("conv-0"),
    dropped: hub.conversations.has("conv-1"), items: busy.timeline.childElementCount,
    remembered: busy.messages.size, trimmedForgotten: !busy.messages.has("m-650"),
  };
}"""


def test_the_board_stays_bounded_whichever_conversation_is_selected(
    gateway: RunningGateway, new_page: NewPage
) -> None:
    """The first conversation is selected and sinks to the bottom: the next oldest goes."""
    page, _ = new_page()
    page.goto(f"{gateway.url}/console")
    bounds = page.evaluate(BOUNDS)
    assert bounds == {
        "conversations": 500, "listed": 500, "selected": "conv-0", "kept": True,
        "dropped": False, "items": 500, "remembered": 500, "trimmedForgotten": True,
    }  # fmt: skip
