"""The twenty-line dashboard of docs/browser-client.md, run as written (with the gateway's
address in place of gateway.example.com) from an origin of its own."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageProblems, QuietHandler
from tests.conftest import ROOT
from tests.running_gateway import RunningGateway, agent_token, fixture_json, running

NewPage = Callable[..., tuple[Page, PageProblems]]


def _dashboard() -> str:
    doc = (ROOT / "docs" / "browser-client.md").read_text()
    section = doc.split("## A dashboard in twenty lines", 1)[1]
    page = section.split("```html\n", 1)[1].split("\n```\n", 1)[0]
    assert len(page.splitlines()) <= 30
    return page


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The dashboard's own backend: static files, among them `agent-token`."""
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()
    server.server_close()


def test_the_documented_dashboard_shows_events(
    new_page: NewPage, backend: tuple[str, Path]
) -> None:
    origin, files = backend
    gateway: RunningGateway
    with running() as gateway:
        host = gateway.url.removeprefix("http://")
        page_source = _dashboard().replace("https://gateway.example.com", gateway.url)
        (files / "index.html").write_text(
            page_source.replace("wss://gateway.example.com", f"ws://{host}")
        )
        (files / "agent-token").write_text(agent_token("ana", ["sms-hub"]))
        scg = gateway.integration("scg", "sms-hub", bearerToken="doc-bearer")
        gateway.post(scg, fixture_json("scg-mo-message.json"))  # before: shown from history

        page, _ = new_page()
        page.goto(f"{origin}/index.html")
        expect(page.locator("#state")).to_have_text("open")
        gateway.post(scg, fixture_json("scg-receipt-delivered.json"))  # live
        items = page.locator("#events li")
        expect(items).to_have_count(2)
        expect(items.nth(0)).to_contain_text("message:customer")
        expect(items.nth(0)).to_contain_text("Is my package coming today?")
        expect(items.nth(1)).to_contain_text("receipt:delivered")
        expect(items.nth(1)).to_contain_text(": delivered")
