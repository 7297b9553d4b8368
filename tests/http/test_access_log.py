"""The access log's writes: workers of `serve --workers N` share one stderr, often a pipe,
where only a write of at most PIPE_BUF (4096) bytes is kept whole; a loop iteration's lines
must go out in such writes, each ending on a line boundary, or two workers' lines splice."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from io import BytesIO

import pytest

from gateway.http.access_log import ATOMIC_WRITE_BYTES, AccessLog
from tests.conftest import ROOT, gateway_env


class Writes(BytesIO):
    """A stream that keeps each `write` call apart: what the pipe would receive as one."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[bytes] = []

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.calls.append(bytes(data))
        return super().write(data)


def answered(log: AccessLog, request_id: str, pad: int = 0) -> None:
    """One request's line, `pad` bytes longer than the shortest."""
    log.request("POST", "/webhooks/" + "x" * pad, "/webhooks/w", 202, 0.001, request_id, "::1")


@pytest.fixture
def access_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gateway.access")


@pytest.mark.usefixtures("access_logged")
async def test_a_busy_iteration_is_written_in_whole_lines_of_at_most_pipe_buf() -> None:
    stream = Writes()
    log = AccessLog(stream)
    for n in range(200):  # ~200 bytes a line: some 40 KB in one loop iteration
        answered(log, str(n), pad=20)
    await asyncio.sleep(0)  # the flush scheduled for the end of the iteration
    assert len(stream.calls) > 1
    for call in stream.calls:
        assert len(call) <= ATOMIC_WRITE_BYTES
        assert call.endswith(b"\n")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["requestId"] for line in lines] == [str(n) for n in range(200)]


@pytest.mark.usefixtures("access_logged")
async def test_a_line_longer_than_pipe_buf_is_a_write_of_its_own() -> None:
    stream = Writes()
    log = AccessLog(stream)
    answered(log, "0")
    answered(log, "1", pad=5000)
    answered(log, "2")
    log.flush()
    assert [json.loads(call)["requestId"] for call in stream.calls] == ["0", "1", "2"]


WRITER = """
import asyncio, logging, sys
from gateway.http.access_log import AccessLog

logging.getLogger("gateway.access").setLevel(logging.INFO)

async def main() -> None:
    log = AccessLog(sys.stdout.buffer)
    for batch in range(20):
        for n in range(50):
            request_id = f"{sys.argv[1]}-{batch}-{n}"
            log.request("POST", "/" + "y" * 150, "/", 202, 0.001, request_id, "::1")
        await asyncio.sleep(0)  # the iteration ends: its lines are flushed

asyncio.run(main())
"""


def test_two_processes_sharing_a_pipe_never_splice_lines() -> None:
    """Two processes' access logs into one real pipe, read back: every line whole."""
    read_end, write_end = os.pipe()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(n)], cwd=ROOT, stdout=write_end, env=gateway_env()
        )
        for n in range(2)
    ]
    os.close(write_end)
    with open(read_end, "rb") as reader:
        data = reader.read()
    assert [writer.wait(30) for writer in writers] == [0, 0]
    lines = [json.loads(line) for line in data.splitlines()]
    assert len(lines) == 2 * 20 * 50
