"""`GET /docs` in real headless Chromium against a real gateway: its one stylesheet applies
under the page's Content-Security-Policy (a violation fails the test, see the conftest), and
every operation of the document is on it, reachable from the navigation."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageProblems, screenshot
from tests.conftest import ROOT
from tests.running_gateway import RunningGateway, running

NewPage = Callable[..., tuple[Page, PageProblems]]


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    with running() as gateway:
        yield gateway


def test_the_reference_page_renders_styled_under_its_policy(
    gateway: RunningGateway, new_page: NewPage
) -> None:
    page, _ = new_page()
    page.goto(gateway.url + "/docs")
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    expect(page.locator("h1")).to_contain_text(document["info"]["title"])
    nav = page.locator("nav")
    assert nav.evaluate("element => getComputedStyle(element).position") == "sticky"
    operations = [op for item in document["paths"].values() for op in item.values()]
    expect(page.locator("section.operation")).to_have_count(
        len(operations) + sum(len(item) for item in document["webhooks"].values())
    )
    nav.locator("a[href='#op-testSubscriber']").click()
    section = page.locator("#op-testSubscriber")
    expect(section).to_be_in_viewport()
    expect(section).to_contain_text("/subscribers/{subscriber_id}/test")
    screenshot(page, "docs-page")
