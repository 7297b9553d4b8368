"""The commands pointed at a server that is not the gateway (a proxy's error page, another
service on that port): every failure is still one line and exit status 2, never a
traceback, and `tail` stops at a refusal that retrying cannot change."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.commands.test_send_and_token import command, one_line_error
from tests.conftest import ROOT, gateway_env
from tests.running_gateway import FIXTURES, GATEWAY_ENV

HTML_PAGE = (
    b"<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n  <h1>down</h1>\n</body>\n"
    b"</html>\n"
)
ANSWERS: dict[str, tuple[int, bytes]] = {
    "/integrations/html-page": (502, HTML_PAGE),
    "/integrations/not-json": (200, b"hello\nworld\n"),
    "/integrations/not-a-record": (200, b'{"integrationId": "not-a-record"}'),
    "/agent/auth": (200, b'{"agentAuth": {}}'),
    "/ws": (404, HTML_PAGE),
    "/busy": (429, b""),
}


class _NotAGateway(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # what a websocket client expects of any answer

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, body = ANSWERS.get(self.path, (404, HTML_PAGE))
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if body.startswith(b"<") else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotAGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("integration", "expected"),
    [
        ("html-page", "502 <html> <head><title>502 Bad Gateway</title></head> <body> <h1>down"),
        ("not-json", "200 but not JSON: hello world"),
        ("not-a-record", "the answer is not an integration record"),
    ],
)
def test_send_to_something_else_is_one_line(
    elsewhere: str, integration: str, expected: str
) -> None:
    fixture = str(FIXTURES / "scg-mo-message.json")
    result = command("send", fixture, "--integration", integration, "--url", elsewhere)
    assert expected in one_line_error(result, "send")


def test_token_from_something_else_is_one_line(elsewhere: str) -> None:
    result = command("token", "--agent", "a", "--hub", "h", "--url", elsewhere)
    assert "the answer holds no agentAuth.jwt" in one_line_error(result, "token")


def test_tail_stops_at_a_4xx_upgrade_refusal(elsewhere: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "tail", "--token", "t", "--url", elsewhere],
        cwd=ROOT,
        env=gateway_env(GATEWAY_ENV),
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"gateway: tail: ws://{elsewhere.removeprefix('http://')}/ws refused the upgrade: HTTP 404"
    ]


def test_tail_retries_a_rate_limited_upgrade(elsewhere: str) -> None:
    url = elsewhere.replace("http://", "ws://") + "/busy"
    tail = subprocess.Popen(
        [sys.executable, "-m", "gateway", "tail", "--token", "t", "--url", url],
        cwd=ROOT,
        env=gateway_env(GATEWAY_ENV),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tail.stderr is not None
        notes = [tail.stderr.readline() for _ in range(2)]
        time.sleep(0.2)
        assert tail.poll() is None, "still trying"
    finally:
        tail.kill()
        tail.wait()
    assert all("HTTP 429); reconnecting in" in note for note in notes), notes
