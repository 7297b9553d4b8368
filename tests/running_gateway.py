"""A `python -m gateway serve` process driven over HTTP as an operator and providers would,
and a TCP proxy that can cut every connection through it (a network drop, at the boundary).

Shared by the browser tests and the command tests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt

from gateway.commands.webhook_request import Integration, WebhookRequest, webhook_request
from tests.conftest import ROOT, GatewayProcess, start_gateway

ADMIN_KEY = "running-gateway-admin-key-0123456789abcdef"
JWT_SECRET = "running-gateway-jwt-secret-0123456789abcdef"
MASTER_KEY = "cnVubmluZy1nYXRld2F5LW1hc3Rlci1rZXktMDEyMzQ"
GATEWAY_ENV = {
    "GATEWAY_ADMIN_KEY": ADMIN_KEY,
    "GATEWAY_JWT_SECRET": JWT_SECRET,
    "GATEWAY_MASTER_KEYS": MASTER_KEY,
}
FIXTURES = ROOT / "tests" / "fixtures"
HUBSTER_HUB = "3bc1e69f-c520-446f-ab2c-01751fd66a31"
HUBSTER_TENANT = "abc1e69f-c888-875f-ee2c-45789fd66a00"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def agent_token(
    agent_id: str, hubs: list[str], *, ttl: float = 600, name: str | None = None
) -> str:
    claims: dict[str, Any] = {
        "sub": agent_id,
        "aud": "gateway",
        "exp": int(time.time() + ttl),
        "hubs": hubs,
    }
    if name:
        claims["name"] = name
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Answer:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Answer(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.read(), dict(exc.headers))


@dataclass
class RunningGateway:
    process: GatewayProcess

    @property
    def url(self) -> str:
        return self.process.url

    def admin(self, method: str, path: str, payload: Any | None = None) -> Any:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
        body = None if payload is None else json.dumps(payload).encode()
        answer = http(method, self.url + path, body, headers)
        assert 200 <= answer.status < 300, (answer.status, answer.body)
        return answer.json() if answer.body else None

    def integration(self, kind: str, hub_id: str, **configuration: Any) -> dict[str, Any]:
        tenant = HUBSTER_TENANT if kind.startswith("hubster") else "acme"
        body = {
            "name": f"{kind} for {hub_id}",
            "kind": kind,
            "hubId": hub_id,
            "tenantId": tenant,
            "configuration": configuration,
        }
        record: dict[str, Any] = self.admin("POST", "/integrations", body)
        return record

    def signed(
        self, integration: dict[str, Any], body: bytes, key: str | None = None
    ) -> WebhookRequest:
        path = f"/webhooks/{integration['integrationId']}"
        return webhook_request(
            Integration.from_record(integration),
            body,
            post_url=self.url + path,
            signed_url=self.url + path,
            key=key,
            now=int(time.time()),
        )

    def post(
        self, integration: dict[str, Any], body: bytes | dict[str, Any], key: str | None = None
    ) -> Any:
        """A provider's webhook, signed as its kind requires; the gateway's JSON answer."""
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        request = self.signed(integration, raw, key)
        answer = http("POST", request.url, request.body, request.headers)
        assert answer.status == 202, (answer.status, answer.body)
        return answer.json()

    def stop(self) -> None:
        assert self.process.terminate() == 0


def start(*args: str, env: dict[str, str] | None = None) -> RunningGateway:
    return RunningGateway(start_gateway(*args, env={**GATEWAY_ENV, **(env or {})}))


@contextlib.contextmanager
def running(*args: str, env: dict[str, str] | None = None) -> Iterator[RunningGateway]:
    gateway = start(*args, env=env)
    try:
        yield gateway
    finally:
        if gateway.process.proc.poll() is None:
            gateway.process.proc.kill()
            gateway.process.proc.wait()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(fixture(name))
    return value


def hubster_system(
    conversation_id: str, *messages: dict[str, Any], hub: str = HUBSTER_HUB
) -> dict[str, Any]:
    """A Hubster System webhook carrying `messages` from a customer, one activity each."""
    base = fixture_json("hubster-system-messages.json")
    template = base["activities"][0]
    activities = []
    for n, message in enumerate(messages):
        activity = {**template, "message": message, "eventId": int(time.time() * 1000) + n}
        activity["interactionId"] = f"{conversation_id}-{activity['eventId']}-{n}"
        activities.append(activity)
    return {**base, "hubId": hub, "conversationId": conversation_id, "activities": activities}


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target_port` on a thread of its own. `cut()` drops every
    connection and refuses new ones (a network outage); `restore()` lets them through."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.restore()

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _start(self) -> None:
        self._server = await asyncio.start_server(
            self._client, "127.0.0.1", self.port, reuse_address=True
        )

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    def cut(self) -> None:
        self._run(self._stop())

    def restore(self) -> None:
        self._run(self._start())

    async def _finish_pipes(self) -> None:
        """Cancel the pipes still winding down, so that none is left pending at close."""
        pipes = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for pipe in pipes:
            pipe.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)

    def close(self) -> None:
        self.cut()
        self._run(self._finish_pipes())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@dataclass(frozen=True)
class Delivered:
    """One request a `ThreadSink` received."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def event_id(self) -> str:
        return str(self.headers["webhook-id"])


class ThreadSink:
    """A subscriber's endpoint on loopback, on threads of its own (so a gateway process,
    not the test's loop, is what it waits for): records every POST as it arrives, and
    answers 204 at once, or after `hold` seconds (a slow subscriber) until `release()`."""

    def __init__(self, hold: float = 0.0) -> None:
        self.received: list[Delivered] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        if not hold:
            self._released.set()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with sink._lock:
                    sink.received.append(Delivered(self.path, headers, body))
                sink._released.wait(hold)
                try:
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender went away meanwhile (a killed gateway)
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Answer the requests held and every later one at once."""
        self._released.set()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def event_ids(self, path: str = "/hook") -> list[str]:
        with self._lock:
            return [item.event_id for item in self.received if item.path == path]

    def wait_for(self, count: int, path: str = "/hook", timeout: float = 30) -> list[str]:
        """The event ids delivered to `path` once there are at least `count` of them."""
        deadline = time.monotonic() + timeout
        while len(ids := self.event_ids(path)) < count:
            assert time.monotonic() < deadline, f"{len(ids)} of {count} delivered to {path}"
            time.sleep(0.05)
        return ids

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()


@dataclass
class WebhookLoad:
    """Hubster System webhooks posted from threads until stopped, each with its own text
    (`load-<n>`, numbered in the order sent) and conversation, and how each was answered
    (0: not at all, the request timed out)."""

    gateway: RunningGateway
    integration: dict[str, Any]
    hub: str
    answers: dict[str, int] = field(default_factory=dict)
    _stopped: threading.Event = field(default_factory=threading.Event)
    _count: itertools.count[int] = field(default_factory=itertools.count)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self, threads: int = 4) -> WebhookLoad:
        self._threads = [threading.Thread(target=self._post, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        for thread in self._threads:
            thread.join(20)

    def _post(self) -> None:
        while not self._stopped.is_set():
            text = f"load-{next(self._count)}"
            body = hubster_system(f"conv-{text}", {"type": "text", "text": text}, hub=self.hub)
            request = self.gateway.signed(self.integration, json.dumps(body).encode())
            try:
                answer = http("POST", request.url, request.body, request.headers)
                self.answers[text] = answer.status
            except OSError:  # no answer at all (a timeout): neither accepted nor refused
                self.answers[text] = 0

    def sent(self) -> int:
        return len(self.answers)

    def accepted(self) -> set[str]:
        answers = self.answers.copy()  # one C call: the posting threads cannot interleave
        return {text for text, status in answers.items() if status == 202}

    def wait_accepted(self, count: int, after: int = 0, timeout: float = 30) -> None:
        """Until `count` webhooks numbered `after` or later were accepted."""
        deadline = time.monotonic() + timeout
        while len([t for t in self.accepted() if int(t[5:]) >= after]) < count:
            assert time.monotonic() < deadline, f"fewer than {count} accepted after {after}"
            time.sleep(0.05)
