"""What the tests of many processes share (`serve --workers`, the load balancer topology):
JSON logs read back, webhooks sent under way while processes die, the event log read
through the engine, websocket agents that resume."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import http.client
import json
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.sync.client import ClientConnection, connect

from gateway.commands.webhook_request import Integration, WebhookRequest, webhook_request
from gateway.engine.redis import RedisOptions, open_redis_engine
from tests.running_gateway import ADMIN_KEY, JWT_SECRET, hubster_system

MASTER_KEYS = secrets.token_urlsafe(32)
SCALE_ENV = {
    "GATEWAY_ADMIN_KEY": ADMIN_KEY,
    "GATEWAY_JWT_SECRET": JWT_SECRET,
    # Required with Redis once secrets are encrypted at rest; ignored before.
    "GATEWAY_MASTER_KEYS": MASTER_KEYS,
}


def log_lines(path: Path) -> list[dict[str, Any]]:
    """Every JSON line of a log file written so far (a line being written is skipped)."""
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            lines.append(json.loads(raw))
    return lines


def access_lines(path: Path, route: str | None = None) -> list[dict[str, Any]]:
    return [
        line
        for line in log_lines(path)
        if line.get("logger") == "gateway.access" and (route is None or line["route"] == route)
    ]


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def children(pid: int) -> list[int]:
    """The process's children, from /proc."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def exited(pid: int) -> bool:
    """The process has ended: gone, or a zombie its parent has not reaped yet."""
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_text().split("\0")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int | None
    """None: the connection failed or broke before an answer."""
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(
    host: str,
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    source: str | None = None,
    timeout: float = 10,
) -> Answer:
    """One request on a new connection (from `source` when given); a failed connection is
    an answer with no status."""
    connection = http.client.HTTPConnection(
        host, port, timeout=timeout, source_address=(source, 0) if source else None
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    except (OSError, http.client.HTTPException):
        return Answer(None, {}, b"")
    finally:
        connection.close()


def marker() -> str:
    return f"marker-{uuid.uuid4().hex}"


def webhook(integration: dict[str, Any], text: str) -> WebhookRequest:
    """A signed Hubster System webhook carrying one customer message `text`; its `path` is
    `/webhooks/{integrationId}`, to be sent to any address."""
    body = json.dumps(hubster_system(f"conv-{text[-6:]}", {"type": "text", "text": text}))
    path = f"/webhooks/{integration['integrationId']}"
    return webhook_request(
        Integration.from_record(integration),
        body.encode(),
        post_url=path,
        signed_url=path,
        key=None,
        now=int(time.time()),
    )


@dataclass
class WebhookLoad:
    """Webhooks sent one after another, each on a new connection, from a thread, while the
    test does something else: every answer is kept with the marker its webhook carried."""

    integration: dict[str, Any]
    host: str
    port: int
    source: str | None = None
    answers: list[tuple[str, Answer]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _run(self) -> None:
        while not self._stop.is_set():
            text = marker()
            request = webhook(self.integration, text)
            answer = send(
                self.host,
                self.port,
                "POST",
                request.url,
                request.body,
                dict(request.headers),
                source=self.source,
            )
            self.answers.append((text, answer))
            time.sleep(0.01)

    @contextlib.contextmanager
    def running(self) -> Iterator[WebhookLoad]:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(30)

    def accepted(self) -> list[str]:
        return [text for text, answer in self.answers if answer.status == 202]


def stored_texts(redis_url: str, key_prefix: str) -> list[str]:
    """The message text of every event in the Redis engine's log, in log order."""

    async def read() -> list[str]:
        engine = await open_redis_engine(RedisOptions(url=redis_url, key_prefix=key_prefix))
        try:
            events = await engine.events.read_after("0", 100_000)
        finally:
            await engine.close()
        texts = []
        for event in events:
            message = json.loads(event.payload).get("message") or {}
            texts.append(message.get("text", ""))
        return texts

    return asyncio.run(read())


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class Agent:
    """An agent's websocket session, read on a thread of its own: every event it receives,
    in order. When the connection breaks it connects again to `url` (the load balancer, or
    the port the workers share) with `lastEventId` = the last id it received, and keeps the
    `recovered` frames it is answered."""

    def __init__(self, url: str, token: str, *, source: str | None = None) -> None:
        self.url = url
        self.token = token
        self._source = {"source_address": (source, 0)} if source else {}
        self.events: list[dict[str, Any]] = []
        self.recovered: list[dict[str, Any]] = []
        self.closes: list[int | None] = []
        self.workers: list[str | None] = []
        """The `X-Gateway-Worker` of each session's upgrade, when a worker answered it."""
        self._connection: ClientConnection | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise AssertionError(f"agent did not get ready at {url}")

    def _url(self) -> str:
        if self.events:
            return f"{self.url}?lastEventId={self.events[-1]['id']}"
        return self.url

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        while not self._stop.is_set():
            try:
                with connect(
                    self._url(), additional_headers=headers, open_timeout=5, **self._source
                ) as ws:
                    self._session(ws)
            except websockets.ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd else None)
            except (OSError, websockets.WebSocketException, TimeoutError):
                time.sleep(0.2)

    def _session(self, ws: ClientConnection) -> None:
        ready = json.loads(ws.recv(timeout=5))
        assert ready["type"] == "ready", ready
        assert ws.response is not None
        self.workers.append(ws.response.headers.get("X-Gateway-Worker"))
        self._connection = ws
        self._ready.set()
        while not self._stop.is_set():
            frame = json.loads(ws.recv())
            if frame["type"] == "event":
                self.events.append(frame["event"])
            elif frame["type"] == "recovered":
                self.recovered.append(frame)

    def texts(self) -> list[str]:
        return [(event.get("message") or {}).get("text", "") for event in self.events]

    def close(self) -> None:
        self._stop.set()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
        self._thread.join(10)


def wait_until_every_agent_has(agents: list[Agent], texts: list[str]) -> None:
    """Every agent received every one of `texts`, and its events are in id order, none
    twice, whichever instance or worker each came through."""
    wait_for(
        lambda: all(set(texts) <= set(agent.texts()) for agent in agents),
        20,
        "every agent to have every accepted event",
    )
    for agent in agents:
        ids = [event["id"] for event in agent.events]
        assert ids == sorted(set(ids)), "in order, none twice"


def throw_away_certificate(path: Path) -> Path:
    """A self-signed certificate and its key, in one PEM file as HAProxy takes them."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM) + key_pem)
    return path
