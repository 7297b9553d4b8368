"""Fan-out: every session must receive every event; at most `window` events in flight."""

from __future__ import annotations

import asyncio
import contextlib
import time
from array import array
from typing import Any

from bench.loadgen.jobs import CpuMeter, FanoutJob
from bench.loadgen.senders import WebhookSender
from bench.loadgen.sessions import close_all, open_sessions, settle
from bench.payloads import read_marker
from bench.stats import LatencySummary
from bench.wire.http import HttpConnection


class Receipts:
    """Counts each event's receipts and wakes its publisher when every session has it."""

    def __init__(self, sessions: int) -> None:
        self.sessions = sessions
        self.frames = 0
        self.delivered = 0
        self.latencies_ms = array("d")
        self._counts: dict[int, int] = {}
        self._complete: dict[int, asyncio.Future[None]] = {}

    def expect(self, seq: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._complete[seq] = future
        return future

    def finish(self, seq: int) -> int:
        """Stop tracking `seq`; how many sessions never got it."""
        self._complete.pop(seq, None)
        return self.sessions - self._counts.pop(seq, 0)

    def on_text(self, index: int, payload: bytes) -> None:
        self.frames += 1
        found = read_marker(payload)
        if found is None:
            return
        seq, sent_ns = found
        self.latencies_ms.append((time.time_ns() - sent_ns) / 1e6)
        self.delivered += 1
        count = self._counts[seq] = self._counts.get(seq, 0) + 1
        if count >= self.sessions:
            future = self._complete.get(seq)
            if future is not None and not future.done():
                future.set_result(None)


async def run_fanout(job: FanoutJob) -> dict[str, Any]:
    receipts = Receipts(job.sessions)
    sockets = await open_sessions(job, receipts.on_text)
    await settle(lambda: receipts.frames)
    sender = WebhookSender(job.webhook_target())
    lost = 0
    meter = CpuMeter()
    meter.start()
    started = time.monotonic()
    deadline = started + job.duration

    async def publisher() -> None:
        nonlocal lost
        connection = await HttpConnection.open(job.host, job.port)
        while time.monotonic() < deadline:
            seq, request = sender.request()
            complete = receipts.expect(seq)
            sent = await sender.send(connection, request)
            if sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(complete, job.event_timeout_seconds)
            missing = receipts.finish(seq)
            lost += missing if sent else 0
            if connection.closed:
                connection = await HttpConnection.open(job.host, job.port)
        connection.close()

    await asyncio.gather(*(publisher() for _ in range(job.window)))
    seconds = time.monotonic() - started
    usage = meter.report()
    closed_by_server = sum(1 for socket in sockets if socket.closed.done())
    close_all(sockets)
    return {
        **sender.outcomes.to_json(),
        "events": sender.next_seq,
        "frames": receipts.delivered,
        "lostFrames": lost,
        "closedByServer": closed_by_server,
        "seconds": seconds,
        "latency": LatencySummary.of(receipts.latencies_ms).to_json(),
        **usage,
    }
