"""`GET /docs`: the document as a page, rendered by the gateway, no script, under a strict
Content-Security-Policy, every operation and schema on it, every text escaped."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from typing import Any

from gateway.reference.page import markdown, render_page
from tests.conftest import ROOT
from tests.http.conftest import make_app

DOCUMENT = json.loads((ROOT / "docs" / "openapi.json").read_text())


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.tags: set[str] = set()
        self.style = ""
        self._in_style = False
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            self.attributes.add(name)
            if name == "id" and value:
                self.ids.add(value)
            if name == "href" and value:
                self.links.append(value)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


async def test_the_page_is_served_under_a_strict_policy(aiohttp_client: Any) -> None:
    client = await aiohttp_client(make_app())
    response = await client.get("/docs")  # no admin key: public
    assert response.status == 200
    assert response.content_type == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; style-src 'sha256-")
    assert "unsafe" not in policy and "script-src" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = _Collector()
    page.feed(await response.text())
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert not {attribute for attribute in page.attributes if attribute.startswith("on")}
    assert "style" not in page.attributes  # style attributes would need 'unsafe-inline'
    digest = base64.b64encode(hashlib.sha256(page.style.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy  # the one stylesheet, and only it, may apply


def test_every_operation_and_schema_is_on_the_page() -> None:
    page = _Collector()
    page.feed(render_page(DOCUMENT))
    for item in DOCUMENT["paths"].values():
        for operation in item.values():
            assert "op-" + operation["operationId"] in page.ids
    for item in DOCUMENT["webhooks"].values():
        for operation in item.values():
            assert "webhook-" + operation["operationId"] in page.ids
    for name in DOCUMENT["components"]["schemas"]:
        assert "schema-" + name in page.ids
    internal = [link[1:] for link in page.links if link.startswith("#")]
    assert internal and set(internal) <= page.ids
    assert {link for link in page.links if not link.startswith("#")} == {"/openapi.json"}


def test_the_examples_and_error_codes_are_shown() -> None:
    text = render_page(DOCUMENT)
    assert "Example: scg: scg-mo-message" in text
    assert "+14085551212" in text  # a value from the SCG fixture's body
    assert "<code>timestamp_out_of_tolerance</code>" in text


def test_text_from_the_document_is_escaped() -> None:
    hostile = '<script>alert("x")</script> <img src=x onerror=alert(1)> `<b>` **<i>**'
    rendered = markdown(hostile)
    assert "<script" not in rendered and "<img" not in rendered and "<b>" not in rendered
    assert "&lt;script&gt;" in rendered
    assert "<code>&lt;b&gt;</code>" in rendered
    document = json.loads(json.dumps(DOCUMENT))
    document["info"]["title"] = hostile
    first = next(iter(document["paths"].values()))
    next(iter(first.values()))["summary"] = hostile
    page = render_page(document)
    assert "<script" not in page and "<img" not in page
    assert not re.search(r"<[^>]*\son\w+=", page)
