"""Real headless Chromium (Debian's `/usr/bin/chromium`) driven by Playwright for Python.

One browser per test module (launching is the slow part), one context per page (fresh
storage, no shared state). Playwright never downloads a browser here: it is pointed at the
system's with `executable_path`. Each page fails its test if it logged a Content-Security-
Policy violation or an uncaught error. Screenshots go to `test-artifacts/`.
"""

from __future__ import annotations

import base64
import functools
import http.server
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
PAGES = Path(__file__).resolve().parent / "pages"
VIEWPORT = {"width": 1200, "height": 720}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is required (apt-get install chromium; see scripts/test)")
    with sync_playwright() as playwright:
        # launch() gives every run a fresh temporary profile (user data dir).
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageProblems:
    """What a page reported that a test must not ignore."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.messages.append(f"uncaught: {error}"))
        page.on("dialog", self._dialog)

    def _console(self, message: ConsoleMessage) -> None:
        network = message.text.startswith(("Failed to load resource", "WebSocket connection to"))
        if "Content Security Policy" in message.text or (message.type == "error" and not network):
            self.messages.append(message.text)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., tuple[Page, PageProblems]]]:
    contexts = []
    watched: list[PageProblems] = []

    def open_page(**context_options: Any) -> tuple[Page, PageProblems]:
        context = browser.new_context(**{"viewport": VIEWPORT, **context_options})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        problems = PageProblems(page)
        watched.append(problems)
        return page, problems

    yield open_page
    for context in contexts:
        context.close()
    for problems in watched:
        assert problems.messages == [], problems.messages
        assert problems.dialogs == [], problems.dialogs


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def png_data_url(width: int, height: int, rgb: tuple[int, int, int]) -> str:
    """A solid PNG as a data: URL (an image that loads without any network)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(png).decode()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def pages_origin() -> Iterator[str]:
    """`tests/browser/pages/` served on an origin of its own, like a dashboard elsewhere."""
    handler = functools.partial(QuietHandler, directory=str(PAGES))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
