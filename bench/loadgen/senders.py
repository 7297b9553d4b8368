"""Webhook senders over the raw HTTP client: one builds and sends a request per call."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.payloads import SignedWebhooks, WebhookTarget, now_ms
from bench.wire.http import ConnectionClosed, HttpConnection, post_request


@dataclass
class Outcomes:
    """What the answers were; `ok` are 2xx."""

    statuses: Counter[int] = field(default_factory=Counter)
    failures: int = 0

    @property
    def ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)

    @property
    def errors(self) -> int:
        return self.failures + sum(self.statuses.values()) - self.ok

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "errors": self.errors,
            "statuses": {str(status): count for status, count in self.statuses.items()},
        }


class WebhookSender:
    """Numbers requests 0, 1, 2, ... across every caller, so no event is ever sent twice;
    or, with `repeat`, sends request 0 every time (a provider redelivering one event)."""

    def __init__(self, target: WebhookTarget, repeat: bool = False) -> None:
        self.target = target
        self.webhooks = SignedWebhooks(target, now_ms())
        self.next_seq = 0
        self.outcomes = Outcomes()
        host = f"{target.host}:{target.port}"
        head = post_request(host, target.path, {"Content-Type": "application/json"}, b"")
        self._head = head.removesuffix(b"\r\n").replace(b"Content-Length: 0\r\n", b"")
        self._repeated = self._build(0, time.time_ns()) if repeat else None

    def _build(self, seq: int, stamp_ns: int) -> bytes:
        lines, body = self.webhooks.signed(seq, stamp_ns)
        return self._head + f"Content-Length: {len(body)}\r\n{lines}\r\n".encode() + body

    def request(self, stamp_ns: int | None = None) -> tuple[int, bytes]:
        """(seq, request bytes) for the next event, stamped with `stamp_ns` or now."""
        if self._repeated is not None:
            self.next_seq += 1
            return 0, self._repeated
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        return seq, self._build(seq, time.time_ns() if stamp_ns is None else stamp_ns)

    async def send(self, connection: HttpConnection, request: bytes) -> bool:
        """Send on `connection`; record the outcome; True when the answer was 2xx."""
        try:
            status = await connection.send(request)
        except ConnectionClosed:
            self.outcomes.failures += 1
            return False
        self.outcomes.statuses[status] += 1
        return 200 <= status < 300


class ConnectionPool:
    """Idle keep-alive connections, opened on demand up to `limit`; callers queue beyond it."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self._host, self._port = host, port
        self._idle: list[HttpConnection] = []
        self._slots = asyncio.Semaphore(limit)

    async def send(self, sender: WebhookSender, request: bytes) -> bool:
        async with self._slots:
            connection = self._idle.pop() if self._idle else None
            if connection is None or connection.closed:
                connection = await HttpConnection.open(self._host, self._port)
            ok = await sender.send(connection, request)
            if not connection.closed:
                self._idle.append(connection)
            return ok

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
