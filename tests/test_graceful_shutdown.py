"""SIGTERM on a real process: stop accepting, finish what is in flight, exit 0."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import socket
import time
import urllib.request
from pathlib import Path

import pytest
import websockets

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ADMIN_KEY = "shutdown-test-admin-key-0123456789ab"


def _admin_post(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return dict(json.loads(response.read()))


def _scg_integration(url: str) -> dict[str, object]:
    """An SMS integration whose webhooks authenticate as scg:pw (Basic)."""
    return _admin_post(
        f"{url}/integrations",
        {
            "name": "sms",
            "kind": "scg",
            "hubId": "sms-hub",
            "tenantId": "acme",
            "configuration": {"username": "scg", "password": "pw"},
        },
    )


def _refused(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as probe:
            probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return probe.recv(100) == b""
    except OSError:
        return True


def test_sigterm_finishes_a_slow_webhook_then_exits_0(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway = gateway_factory(env={"GATEWAY_ADMIN_KEY": ADMIN_KEY})
    integration = _scg_integration(gateway.url)
    body = (FIXTURES / "scg-mo-message.json").read_bytes()
    credential = base64.b64encode(b"scg:pw").decode()
    head = (
        f"POST /webhooks/{integration['integrationId']} HTTP/1.1\r\n"
        f"Host: {gateway.host}:{gateway.port}\r\n"
        "Content-Type: application/json\r\n"
        f"Authorization: Basic {credential}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()

    with socket.create_connection((gateway.host, gateway.port), timeout=10) as slow:
        slow.sendall(head + body[:50])
        time.sleep(0.3)
        gateway.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while not _refused(gateway.host, gateway.port):
            if time.monotonic() > deadline:
                pytest.fail("the gateway still accepts connections after SIGTERM")
            time.sleep(0.05)
        assert gateway.proc.poll() is None, "exited with a request in flight"
        slow.sendall(body[50:])
        response = b""
        while chunk := slow.recv(65536):
            response += chunk

    status_line = response.split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 202 Accepted", response
    assert json.loads(response.split(b"\r\n\r\n", 1)[1]) == {"accepted": 1, "duplicates": 0}
    assert gateway.proc.wait(20) == 0


def test_sigterm_closes_websockets_with_1012_then_exits_0(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway = gateway_factory(env={"GATEWAY_ADMIN_KEY": ADMIN_KEY})
    request = urllib.request.Request(
        f"{gateway.url}/agent/auth",
        data=json.dumps({"agentId": "agent-1", "hubIds": ["hub-1"]}).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        token = json.loads(response.read())["agentAuth"]["jwt"]

    async def session_closed_by_sigterm() -> int | None:
        headers = {"Authorization": f"Bearer {token}"}
        url = f"ws://{gateway.host}:{gateway.port}/ws"
        async with websockets.connect(url, additional_headers=headers) as ws:
            assert json.loads(await ws.recv())["type"] == "ready"
            gateway.proc.send_signal(signal.SIGTERM)
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None

    assert asyncio.run(session_closed_by_sigterm()) == 1012
    assert gateway.proc.wait(20) == 0


def test_sigterm_while_draining_answers_close_and_readyz_is_503(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway = gateway_factory(env={"GATEWAY_ADMIN_KEY": ADMIN_KEY})
    integration = _scg_integration(gateway.url)
    body = (FIXTURES / "scg-mo-message.json").read_bytes()
    credential = base64.b64encode(b"scg:pw").decode()
    with (
        socket.create_connection((gateway.host, gateway.port), timeout=10) as slow,
        socket.create_connection((gateway.host, gateway.port), timeout=10) as idle,
    ):
        slow.sendall(
            f"POST /webhooks/{integration['integrationId']} HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Basic {credential}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        time.sleep(0.2)
        gateway.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        idle.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := idle.recv(65536):
            answer += chunk
        head = answer.split(b"\r\n\r\n", 1)[0]
        assert head.startswith(b"HTTP/1.1 503 "), answer
        assert b"Connection: close" in head
        assert b"shutting down" in answer
        slow.sendall(body[10:])
        assert slow.recv(65536).startswith(b"HTTP/1.1 202 ")
    assert gateway.proc.wait(20) == 0
