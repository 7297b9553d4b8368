"""The traffic of the soak test (`test_soak.py`), as asyncio coroutines against a real
gateway process: hostile HTTP sockets written byte by byte, hostile websockets, and the
well-behaved agent and subscriber sink beside them.

Every hostile socket is a `Probe`: what it expects the gateway to answer (an HTTP status,
or a websocket close code), and the limit that must end it (`deadline`, seconds after the
probe started). Each records what it got and when the gateway closed it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

import signing
from tests.http.hostile_probes import SCG_BASIC, TCP_STATES_CLOSED

HEADER, BODY, SEND, KEEPALIVE, AUTH = 1.0, 2.0, 2.0, 3.0, 3.0
"""The gateway's header, body, send, keep-alive and websocket `auth` deadlines in the soak."""
SLACK = 5.0
"""Seconds past a deadline a loaded two-core machine may take to close a socket."""
MIB = 1024 * 1024


@dataclass
class Probe:
    kind: str
    expected: int | None
    """The HTTP status or websocket close code expected; None: nothing answered."""
    deadline: float
    got: int | None = None
    closed_after: float | None = None
    """Seconds from the probe's start to the gateway closing it; None: still open."""
    notes: list[str] = field(default_factory=list)
    """Error frame codes a websocket probe received."""

    @property
    def closed_in_time(self) -> bool:
        return self.closed_after is not None and self.closed_after <= self.deadline + SLACK


# --- raw HTTP --------------------------------------------------------------------------


def status_of(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/1."):
        return None
    return int(answer[9:12])


async def _send(writer: asyncio.StreamWriter, parts: Sequence[bytes], interval: float) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        for part in parts:
            writer.write(part)
            await writer.drain()
            if interval:
                await asyncio.sleep(interval)


@dataclass(frozen=True)
class Hostile:
    """A hostile request: its bytes, sent `interval` seconds apart, and what must become of
    it (see `Probe`)."""

    kind: str
    expected: int | None
    deadline: float
    parts: tuple[bytes, ...]
    interval: float = 0.0
    copies: int = 1


async def http_probe(address: tuple[str, int], hostile: Hostile) -> Probe:
    """Send a hostile request while reading whatever comes back, until the gateway closes
    the connection or its deadline + `SLACK` seconds pass."""
    probe = Probe(hostile.kind, hostile.expected, hostile.deadline)
    reader, writer = await asyncio.open_connection(*address)
    started = time.monotonic()
    sending = asyncio.create_task(_send(writer, hostile.parts, hostile.interval))
    answer = bytearray()
    try:
        async with asyncio.timeout(hostile.deadline + SLACK):
            with contextlib.suppress(ConnectionError):
                while chunk := await reader.read(65536):
                    answer += chunk
        probe.closed_after = time.monotonic() - started
    except TimeoutError:
        pass
    finally:
        sending.cancel()
        writer.close()
    probe.got = status_of(bytes(answer))
    return probe


async def unread_probe(address: tuple[str, int], hostile: Hostile) -> Probe:
    """Pipeline the hostile request again and again, never reading a byte of the answers,
    until the gateway stops taking more; then watch (without reading, which would let the
    gateway go on) for the connection to be closed."""
    probe = Probe(hostile.kind, hostile.expected, hostile.deadline)
    loop = asyncio.get_running_loop()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await loop.sock_connect(sock, address)
        started = time.monotonic()
        chunk = b"".join(hostile.parts) * 100
        taken = started
        while time.monotonic() - taken < 0.5:
            try:
                sock.send(chunk)
                taken = time.monotonic()
            except BlockingIOError:
                await asyncio.sleep(0.05)
        while time.monotonic() - started < hostile.deadline + SLACK:
            if sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] in TCP_STATES_CLOSED:
                probe.closed_after = time.monotonic() - started
                break
            await asyncio.sleep(0.05)
    return probe


def hostile_requests(hub: str, hubster: str, key: str, scg: str) -> list[Hostile]:
    """Every kind of hostile request, against the paths of a Hubster integration of `hub`
    (signing with `key`) and of an SCG integration taking `SCG_BASIC`."""
    scg_body = b'{"event": {"evt-tp": "mo_message_received"}, "event-id": "trickled"}'
    scg_head = request(scg, f"Authorization: {SCG_BASIC}", length=len(scg_body))
    scg_chunked = request(scg, f"Authorization: {SCG_BASIC}")
    unfinished_head = request("/healthz", "X-Padding: " + "p" * 100, method="GET")[:-4]
    chunk = b"x" * (MIB + 10)
    activities = hubster_activities("m", ["x"] * 400, 1_700_000_000_000)
    multiplying = hubster_body(
        hub, "multiplying", activities, conversationProperties={"blob": "p" * 100_000}
    )

    def signed(body: bytes, *headers: str) -> bytes:
        return request(hubster, *headers, hubster_signed(key, body), length=len(body)) + body

    return [
        Hostile("silent socket", None, HEADER, (), copies=3),
        Hostile("header trickle", None, HEADER, one_by_one(unfinished_head), 0.2, copies=2),
        Hostile("body trickle", 408, BODY, (scg_head, *one_by_one(scg_body)), 0.2, copies=2),
        Hostile(
            "chunked trickle",
            408,
            BODY,
            (scg_chunked, *(b"1\r\n" + byte + b"\r\n" for byte in one_by_one(scg_body))),
            0.2,
            copies=2,
        ),
        Hostile("idle keep-alive", 200, KEEPALIVE, (request("/healthz", method="GET"),), copies=2),
        Hostile("oversized, declared", 413, BODY, (request(hubster, length=2 * MIB),), copies=2),
        Hostile(
            "oversized, chunked",
            413,
            KEEPALIVE,
            (request(hubster) + f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n",),
        ),
        Hostile("malformed request line", 400, 0, (b"GARBAGE\r\n\r\n",)),
        Hostile("headers too large", 431, 0, (unfinished_head + b"p" * 9000 + b"\r\n\r\n",)),
        Hostile("malformed JSON, signed", 400, KEEPALIVE, (signed(b"{nope"),)),
        Hostile("undecodable gzip", 415, 0, (signed(b"{", "Content-Encoding: gzip"),)),
        Hostile("wrong media type", 415, KEEPALIVE, (signed(b"{}", "Content-Type: text/plain"),)),
        Hostile(
            "bad signature",
            403,
            KEEPALIVE,
            (request(hubster, "x-hubster-signature: AAAA", length=2) + b"{}",),
            copies=3,
        ),
        Hostile(
            "unauthenticated 1 MiB SCG body",
            401,
            BODY,
            (request(scg, length=MIB), b"x" * 1_048_000),
            copies=3,
        ),
        Hostile("multiplying Hubster body", 413, KEEPALIVE, (signed(multiplying),)),
    ]


def one_by_one(data: bytes) -> tuple[bytes, ...]:
    return tuple(data[i : i + 1] for i in range(len(data)))


def request(path: str, *headers: str, length: int | None = None, method: str = "POST") -> bytes:
    """A request head; a POST's body is JSON unless a Content-Type says otherwise, and
    chunked without `length`."""
    lines = [f"{method} {path} HTTP/1.1", "Host: gateway.test", *headers]
    if method == "POST":
        if not any(header.lower().startswith("content-type:") for header in headers):
            lines.append("Content-Type: application/json")
        lines.append(
            f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
        )
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


UNREAD = Hostile("answers never read", None, SEND, (request("/openapi.json", method="GET"),))
"""Pipelined requests whose answers are never read (see `unread_probe`)."""


def hubster_activities(conversation: str, texts: Sequence[str], first_id: int) -> list[Any]:
    return [
        {
            "type": "message",
            "eventId": first_id + n,
            "interactionId": f"{conversation}-{first_id + n}",
            "sender": {"integrationId": "customer-1", "integrationType": "Customer"},
            "message": {"type": "text", "text": text},
        }
        for n, text in enumerate(texts)
    ]


def hubster_body(hub: str, conversation: str, activities: list[Any], **extra: Any) -> bytes:
    return orjson.dumps(
        {"hubId": hub, "conversationId": conversation, "activities": activities, **extra}
    )


def hubster_signed(key: str, body: bytes) -> str:
    return f"x-hubster-signature: {signing.hubster.sign(body, key)}"


# --- websockets ----------------------------------------------------------------------


async def _until_closed(ws: aiohttp.ClientWebSocketResponse, probe: Probe) -> None:
    """Read frames (noting error codes) until the gateway closes the websocket."""
    while True:
        message = await ws.receive()
        if message.type is aiohttp.WSMsgType.TEXT:
            frame = orjson.loads(message.data)
            if frame["type"] == "error":
                probe.notes.append(frame["error"]["code"])
        elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            probe.got = ws.close_code
            return
        elif message.type is aiohttp.WSMsgType.ERROR:
            return


async def watch(
    ws: aiohttp.ClientWebSocketResponse,
    probe: Probe,
    frames: Sequence[bytes | str] = (),
    interval: float = 0.0,
) -> Probe:
    """Send `frames` on an open websocket and read until the gateway closes it or the
    probe's `deadline` + `SLACK` seconds pass."""
    started = time.monotonic()

    async def send() -> None:
        with contextlib.suppress(ConnectionError):
            for frame in frames:
                if isinstance(frame, str):
                    await ws.send_str(frame)
                else:
                    await ws.send_frame(frame, aiohttp.WSMsgType.TEXT)
                if interval:
                    await asyncio.sleep(interval)

    sending = asyncio.create_task(send())
    try:
        async with asyncio.timeout(probe.deadline + SLACK):
            await _until_closed(ws, probe)
        probe.closed_after = time.monotonic() - started
    except TimeoutError:
        pass
    finally:
        sending.cancel()
        await ws.close()
    return probe


async def agent_websocket(
    client: aiohttp.ClientSession, url: str, token: str
) -> aiohttp.ClientWebSocketResponse:
    """A websocket authenticated on its upgrade, once its `ready` frame is in."""
    ws = await client.ws_connect(
        url, headers={"Authorization": f"Bearer {token}"}, heartbeat=None, max_msg_size=0
    )
    ready = await ws.receive_json(timeout=10)
    assert ready["type"] == "ready", ready
    return ws


# --- the well-behaved ------------------------------------------------------------------


@dataclass
class Agent:
    """A normal agent: every event of its hub, as received, in order."""

    ws: aiohttp.ClientWebSocketResponse
    texts: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    closed: int | None = None

    async def follow(self) -> None:
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            frame = orjson.loads(message.data)
            if frame["type"] == "event":
                self.ids.append(frame["event"]["id"])
                self.texts.append(frame["event"]["message"]["text"])
            elif frame["type"] == "ping":
                await self.ws.send_str('{"type": "pong"}')
        self.closed = self.ws.close_code


@dataclass
class Sink:
    """A subscriber's endpoint: a real aiohttp server verifying every Standard Webhooks
    signature before it takes a delivery."""

    secret: str = ""
    texts: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError as error:
            self.refused.append(str(error))
            return web.Response(status=400)
        self.ids.append(request.headers["webhook-id"])
        self.texts.append(event["message"]["text"])
        return web.Response(status=204)
