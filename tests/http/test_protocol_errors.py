"""Requests aiohttp refuses before routing, against a real process: the contract's error
shape, a request id, and nothing of the offending bytes in the log."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import start_gateway

SECRET = "SUPERSECRETADMINKEY"


def _exchange(host: str, port: int, raw: bytes) -> bytes:
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(raw)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


@pytest.fixture(scope="module")
def gateway_and_log(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    log_file: Path = tmp_path_factory.mktemp("protocol") / "gateway.log"
    gateway = start_gateway(
        env={"GATEWAY_ADMIN_KEY": "admin-key-of-the-protocol-error-tests"}, log_file=log_file
    )
    yield gateway, log_file
    assert gateway.terminate() == 0


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"GARBAGE\r\n\r\n", 400, "bad_request"),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nNo-Colon-Here\r\n\r\n", 400, "bad_request"),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + SECRET.encode()
            + b"\x01\r\n\r\n",
            400,
            "bad_request",
        ),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request"),
        (
            b"POST /webhooks/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nabc",
            400,
            "bad_request",
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
            431,
            "request_header_fields_too_large",
        ),
        (
            b"GET /healthz HTTP/1.1\r\n"
            + b"".join(b"X-Header-%d: 1\r\n" % i for i in range(200))
            + b"\r\n",
            431,
            "request_header_fields_too_large",
        ),
    ],
    ids=[
        "request-line",
        "header-line",
        "control-byte",
        "long-url",
        "length-and-chunked",
        "header-too-large",
        "too-many-headers",
    ],
)
def test_malformed_http_gets_the_error_shape(
    gateway_and_log, raw: bytes, status: int, code: str
) -> None:  # type: ignore[no-untyped-def]
    gateway, _ = gateway_and_log
    answer = _exchange(gateway.host, gateway.port, raw)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == str(status).encode(), answer[:300]
    assert b"Content-Type: application/json" in head
    assert b"UC-REST-ERROR: " in head
    assert b"X-Request-Id: " in head
    assert json.loads(body)["error"]["code"] == code


def test_the_offending_bytes_are_not_logged(gateway_and_log) -> None:  # type: ignore[no-untyped-def]
    gateway, log_file = gateway_and_log
    _exchange(
        gateway.host,
        gateway.port,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + SECRET.encode()
        + b"\x7f\r\n\r\n",
    )
    assert gateway.proc.poll() is None
    time.sleep(0.2)
    text = log_file.read_text()
    assert "request refused before routing" in text
    assert SECRET not in text
    assert "Traceback" not in text
