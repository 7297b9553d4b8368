"""Fan-out: sessions held open across phases; in each, every session must receive every
event, with at most `window` events in flight."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from array import array
from collections.abc import Callable
from typing import Any

import orjson

from bench.loadgen.jobs import CpuMeter, FanoutPhase, SessionsJob
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
        self.restart()

    def restart(self) -> None:
        """A new phase: its own counts and latencies (events of an earlier phase still
        arriving are counted in `frames` only)."""
        self.delivered = 0
        self.delivered_bytes = 0
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
        future = self._complete.get(seq)
        if future is None:
            return
        self.latencies_ms.append((time.time_ns() - sent_ns) / 1e6)
        self.delivered += 1
        self.delivered_bytes += len(payload)
        count = self._counts[seq] = self._counts.get(seq, 0) + 1
        if count >= self.sessions and not future.done():
            future.set_result(None)


async def _publish(
    job: SessionsJob, phase: FanoutPhase, sender: WebhookSender, receipts: Receipts
) -> int:
    """Run the phase's publishers until its deadline and its last events are in; how many
    frames were lost (sessions that never got an event within the timeout)."""
    slots = asyncio.Semaphore(phase.window)
    waiting: set[asyncio.Task[None]] = set()
    lost = 0
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + phase.duration
    interval = phase.publishers / phase.rate if phase.rate else 0.0

    async def complete(seq: int, arrived: asyncio.Future[None], sent: bool) -> None:
        nonlocal lost
        try:
            if sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(arrived, phase.event_timeout_seconds)
        finally:
            missing = receipts.finish(seq)
            lost += missing if sent else 0
            slots.release()

    async def publisher(index: int) -> None:
        connection = await HttpConnection.open(job.host, job.port)
        scheduled = started + index * interval / phase.publishers
        while loop.time() < deadline:
            await slots.acquire()
            stamp_ns = None
            if interval:
                await asyncio.sleep(max(0.0, scheduled - loop.time()))
                stamp_ns = time.time_ns() - int((loop.time() - scheduled) * 1e9)
                scheduled += interval
            seq, request = sender.request(stamp_ns)
            arrived = receipts.expect(seq)
            sent = await sender.send(connection, request)
            task = asyncio.create_task(complete(seq, arrived, sent))
            waiting.add(task)
            task.add_done_callback(waiting.discard)
            if connection.closed:
                connection = await HttpConnection.open(job.host, job.port)
        connection.close()

    await asyncio.gather(*(publisher(index) for index in range(phase.publishers)))
    if waiting:
        await asyncio.wait(waiting)
    return lost


async def run_phase(
    job: SessionsJob, phase: FanoutPhase, sender: WebhookSender, receipts: Receipts
) -> dict[str, Any]:
    receipts.restart()
    before = (sender.next_seq, sender.outcomes.ok, sender.outcomes.errors)
    meter = CpuMeter()
    meter.start()
    started = time.monotonic()
    lost = await _publish(job, phase, sender, receipts)
    seconds = time.monotonic() - started
    usage = meter.report()
    return {
        "publishers": phase.publishers,
        "window": phase.window,
        "rate": phase.rate,
        "events": sender.next_seq - before[0],
        "ok": sender.outcomes.ok - before[1],
        "errors": sender.outcomes.errors - before[2],
        "frames": receipts.delivered,
        "frameBytes": receipts.delivered_bytes / receipts.delivered if receipts.delivered else 0,
        "lostFrames": lost,
        "seconds": seconds,
        "latency": LatencySummary.of(receipts.latencies_ms).to_json(),
        **({"latenciesMs": list(receipts.latencies_ms)} if phase.raw_latencies else {}),
        **usage,
    }


def _say(report: dict[str, Any]) -> None:
    sys.stdout.buffer.write(orjson.dumps(report) + b"\n")
    sys.stdout.flush()


async def run_sessions(job: SessionsJob, next_line: Callable[[], str]) -> dict[str, Any]:
    """Open the sessions, say `ready`, run each phase read from `next_line` (reporting it),
    until a line that is not a phase."""
    receipts = Receipts(job.sessions)
    sockets = await open_sessions(job, receipts.on_text)
    await settle(lambda: receipts.frames)
    _say({"event": "ready", "sessions": len(sockets)})
    sender = WebhookSender(job.webhook_target())
    while (line := await asyncio.to_thread(next_line)).startswith("{"):
        phase = FanoutPhase.model_validate_json(line)
        _say({"event": "phase", **await run_phase(job, phase, sender, receipts)})
    closed_by_server = sum(1 for socket in sockets if socket.closed.done())
    close_all(sockets)
    return {"sessions": len(sockets), "closedByServer": closed_by_server, "cpuPercent": None}
