"""Helpers for the websocket tests: tokens, activity events (docs/activity-events.md),
publishing, frame reading."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jwt
import orjson

from gateway.engine.base import Engine
from gateway.engine.events import NewEvent, StoredEvent

ADMIN_KEY = "ws-tests-admin-key"
JWT_SECRET = "ws-tests-jwt-secret-0123456789abcdef"
AUDIENCE = "gateway"
FRAME_TIMEOUT = 5.0


def agent_token(
    agent_id: str,
    hubs: list[str],
    *,
    conversations: list[str] | None = None,
    name: str | None = None,
    ttl: float = 300,
    secret: str = JWT_SECRET,
    **extra: Any,
) -> str:
    """An HS256 agent token as a backend elsewhere would mint it."""
    claims: dict[str, Any] = {
        "sub": agent_id,
        "aud": AUDIENCE,
        "exp": int(time.time() + ttl) if ttl >= 1 else time.time() + ttl,
        "hubs": hubs,
        **extra,
    }
    if conversations is not None:
        claims["conversations"] = conversations
    if name is not None:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def activity(
    hub_id: str,
    conversation_id: str,
    *,
    kind: str = "message:customer",
    text: str = "Hello, I need help with my order",
    seq: int = 0,
) -> dict[str, Any]:
    """An activity event (docs/activity-events.md), without its gateway `id`."""
    now = _now_rfc3339()
    family = kind.partition(":")[0]
    message = {"type": "text", "text": f"{text} #{seq}"} if family == "message" else None
    receipt = None
    event = None
    if family == "receipt":
        receipt = {
            "messageId": f"msg-{seq}",
            "state": kind.partition(":")[2],
            "previousState": "sent",
            "reasonCode": None,
            "reasonDescription": None,
            "price": None,
        }
    elif family == "event":
        event = {"type": kind.partition(":")[2]}
    return {
        "type": kind,
        "occurredAt": now,
        "receivedAt": now,
        "tenantId": "acme",
        "hubId": hub_id,
        "integrationId": f"int-{hub_id}",
        "conversationId": conversation_id,
        "channel": "WebChat",
        "source": {"provider": "hubster", "eventId": str(seq), "attempt": 1, "echo": False},
        "sender": {"role": "customer", "id": f"cust-{conversation_id}", "address": None},
        "recipient": {"role": "agent", "id": "desk", "address": None},
        "message": message,
        "receipt": receipt,
        "event": event,
        "data": {"seq": seq},
    }


def new_event(body: dict[str, Any]) -> NewEvent:
    return NewEvent(
        dedup_key=uuid.uuid4().hex,
        hub_id=body["hubId"],
        conversation_id=body["conversationId"],
        type=body["type"],
        body=orjson.dumps(body),
    )


async def publish(engine: Engine, bodies: Iterable[dict[str, Any]]) -> list[StoredEvent]:
    result = await engine.events.append([new_event(body) for body in bodies], 3600)
    return result.stored


async def next_frame(
    ws: aiohttp.ClientWebSocketResponse, *types: str, timeout: float = FRAME_TIMEOUT
) -> dict[str, Any]:
    """The next JSON frame, skipping any whose type is not among `types` (when given)."""
    while True:
        message = await ws.receive(timeout=timeout)
        assert message.type is aiohttp.WSMsgType.TEXT, f"expected a frame, got {message!r}"
        frame: dict[str, Any] = orjson.loads(message.data)
        if not types or frame["type"] in types:
            return frame


async def event_ids(
    ws: aiohttp.ClientWebSocketResponse, count: int, timeout: float = FRAME_TIMEOUT
) -> list[str]:
    """The ids of the next `count` event frames (other frames skipped)."""
    ids = []
    while len(ids) < count:
        frame = await next_frame(ws, "event", timeout=timeout)
        ids.append(frame["event"]["id"])
    return ids


async def closed_with(ws: aiohttp.ClientWebSocketResponse, timeout: float = FRAME_TIMEOUT) -> int:
    """Read until the server closes; its close code."""
    while True:
        message = await ws.receive(timeout=timeout)
        if message.type is aiohttp.WSMsgType.CLOSE:
            return int(message.data)
        if message.type is aiohttp.WSMsgType.CLOSED:
            assert ws.close_code is not None
            return ws.close_code


def small_receive_buffer(host: str, port: int) -> socket.socket:
    """A connected socket with a small receive window: the server's data backs up in its
    own buffers as soon as the client does not read (a slow link)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    sock.setblocking(False)
    return sock
