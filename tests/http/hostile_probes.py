"""Raw-socket probes of a real gateway process, as a hostile or broken client would send
them: silent sockets, bytes trickled, bodies abandoned; plus the admin calls and metric
reads the tests around them need."""

from __future__ import annotations

import base64
import json
import re
import select
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from tests.conftest import GatewayProcess

ADMIN_KEY = "hostile-clients-admin-key-0123456789abcdef"
SCG_USER, SCG_PASSWORD = "scg", "scg-password"
SCG_BASIC = "Basic " + base64.b64encode(f"{SCG_USER}:{SCG_PASSWORD}".encode()).decode()


@dataclass
class Outcome:
    """What a probe saw: the bytes answered, and after how many seconds the gateway closed
    the connection (None: still open when the probe gave up)."""

    answer: bytes
    closed_after: float | None

    @property
    def status(self) -> int | None:
        match = re.match(rb"HTTP/1\.[01] (\d{3}) ", self.answer)
        return int(match[1]) if match else None

    @property
    def error_code(self) -> str:
        body = self.answer.partition(b"\r\n\r\n")[2]
        return str(json.loads(body)["error"]["code"])

    def header(self, name: str) -> str | None:
        head = self.answer.partition(b"\r\n\r\n")[0].decode("latin-1")
        for line in head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


def connect(gateway: GatewayProcess) -> socket.socket:
    return socket.create_connection((gateway.host, gateway.port), timeout=10)


def _read_available(sock: socket.socket, wait: float) -> bytes | None:
    """What arrives within `wait` seconds: b"" when nothing did, None once the peer closed."""
    readable, _, _ = select.select([sock], [], [], max(wait, 0))
    if not readable:
        return b""
    try:
        chunk = sock.recv(65536)
    except ConnectionResetError:
        return None
    return chunk or None


def trickle(sock: socket.socket, data: bytes, interval: float, give_up_after: float) -> Outcome:
    """Send `data` one byte every `interval` seconds (then nothing more), reading whatever
    the gateway answers, until it closes the connection or `give_up_after` seconds pass."""
    started = time.monotonic()
    answer = b""
    remaining = data
    while time.monotonic() - started < give_up_after:
        if remaining:
            try:
                sock.sendall(remaining[:1])
            except OSError:
                return Outcome(answer, time.monotonic() - started)
            remaining = remaining[1:]
        chunk = _read_available(sock, interval if remaining else 0.05)
        if chunk is None:
            return Outcome(answer, time.monotonic() - started)
        answer += chunk
    return Outcome(answer, None)


def wait_for_close(sock: socket.socket, give_up_after: float) -> Outcome:
    """Send nothing more; read until the gateway closes or `give_up_after` passes."""
    return trickle(sock, b"", 0.05, give_up_after)


TCP_STATES_CLOSED = {7, 8}
"""Linux's TCP_CLOSE (the peer reset the connection) and TCP_CLOSE_WAIT (the peer closed)."""


def stuff_without_reading(sock: socket.socket, request: bytes) -> None:
    """Pipeline `request` again and again without reading a byte of the answers, until the
    gateway stops taking them (its answers back up, then its reading stops)."""
    sock.setblocking(False)
    chunk = request * 100
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < 0.5:
        try:
            sock.send(chunk)
            idle_since = time.monotonic()
        except BlockingIOError:
            time.sleep(0.05)


def closed_unread(sock: socket.socket, give_up_after: float) -> float | None:
    """Without reading (which would let the gateway go on), after how many seconds the
    connection's state says the gateway closed or reset it; None if it did not."""
    started = time.monotonic()
    while time.monotonic() - started < give_up_after:
        if sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] in TCP_STATES_CLOSED:
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def webhook_head(integration_id: str, *headers: str, length: int | None = None) -> bytes:
    """A webhook request's head; without `length`, its body is chunked."""
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    lines = [
        f"POST /webhooks/{integration_id} HTTP/1.1",
        "Host: gateway.test",
        "Content-Type: application/json",
        framing,
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def admin(gateway: GatewayProcess, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        gateway.url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def scg_integration(gateway: GatewayProcess) -> str:
    created = admin(
        gateway,
        "POST",
        "/integrations",
        {
            "name": "sms",
            "kind": "scg",
            "hubId": "sms-hub",
            "configuration": {"username": SCG_USER, "password": SCG_PASSWORD},
        },
    )
    return str(created["integrationId"])


def metric(gateway: GatewayProcess, series: str) -> float:
    """One series of `/metrics` by its exact name and labels (0 when absent)."""
    with urllib.request.urlopen(gateway.url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == series:
            return float(value)
    return 0.0


def post(
    gateway: GatewayProcess, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A POST by urllib: status, JSON body, headers (errors included)."""
    request = urllib.request.Request(gateway.url + path, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)
