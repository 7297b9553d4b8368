"""`python -m gateway tail` as a real process: lines, JSON, filters, resume after a network
drop (a TCP proxy cut between it and the gateway), refusal."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import IO

import pytest

from tests.conftest import ROOT, gateway_env
from tests.running_gateway import (
    GATEWAY_ENV,
    RunningGateway,
    TcpProxy,
    agent_token,
    fixture_json,
    hubster_system,
    running,
)

TIMEOUT = 20


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    with running() as gateway:
        yield gateway


class TailProcess:
    """`tail` running; its stdout and stderr read on threads so a test can wait for lines."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "tail", *args],
            cwd=ROOT,
            env=gateway_env(GATEWAY_ENV),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.notes: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.notes), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str], into: list[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line.rstrip("\n"))
                self._changed.notify_all()

    def _wait(self, ready: Callable[[], bool], what: str) -> None:
        with self._changed:
            assert self._changed.wait_for(ready, TIMEOUT), f"{what}: {self.lines} {self.notes}"

    def wait_note(self, text: str, times: int = 1) -> None:
        self._wait(lambda: sum(text in note for note in self.notes) >= times, f"note {text!r}")

    def wait_lines(self, count: int) -> None:
        self._wait(lambda: len(self.lines) >= count, f"{count} lines")

    def finish(self) -> tuple[int, list[str]]:
        code = self.proc.wait(TIMEOUT)
        for reader in self._readers:
            reader.join(TIMEOUT)
        return code, self.lines

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def tails() -> Iterator[list[TailProcess]]:
    started: list[TailProcess] = []
    yield started
    for tail in started:
        tail.kill()


def _hub() -> str:
    return f"tail-{uuid.uuid4().hex[:8]}"


def test_lines_resume_after_a_network_drop_none_missing_none_twice(
    gateway: RunningGateway, tails: list[TailProcess]
) -> None:
    hub = _hub()
    hubster = gateway.integration("hubster-system", hub)

    def post(text: str) -> None:
        gateway.post(hubster, hubster_system("conv-1", {"type": "text", "text": text}, hub=hub))

    proxy = TcpProxy(gateway.process.port)
    try:
        url = f"http://127.0.0.1:{proxy.port}"
        tail = TailProcess("--token", agent_token("ana", [hub]), "--url", url, "--count", "4")
        tails.append(tail)
        tail.wait_note(f"connected as ana to {hub}")
        proxy.cut()  # before it saw any event: it resumes from where its session went live
        tail.wait_note("reconnecting")
        post("first line\nwith a newline")
        proxy.restore()
        tail.wait_note("connected as ana", times=2)
        tail.wait_lines(1)
        proxy.cut()  # and after an event: it resumes after that one
        post("second")
        post("third")
        proxy.restore()
        post("fourth")
        code, lines = tail.finish()
    finally:
        proxy.close()
    assert code == 0
    fields = [line.split(" ", 3) for line in lines]
    assert [f[1:] for f in fields] == [
        ["message:customer", "conv-1", "first line with a newline"],
        ["message:customer", "conv-1", "second"],
        ["message:customer", "conv-1", "third"],
        ["message:customer", "conv-1", "fourth"],
    ]
    ids = [f[0] for f in fields]
    assert ids == sorted(set(ids))
    assert sum("connected as ana" in note for note in tail.notes) == 3


def test_json_lines_filtered_by_type_and_resumed_since_an_id(
    gateway: RunningGateway, tails: list[TailProcess]
) -> None:
    hub = _hub()
    scg = gateway.integration("scg", hub, bearerToken="tail-bearer")
    gateway.post(scg, fixture_json("scg-mo-message.json"))
    token = agent_token("ana", [hub])
    tail = TailProcess("--token", token, "--url", gateway.url, "--json",
                       "--events", "receipt,consent", "--count", "1")  # fmt: skip
    tails.append(tail)
    tail.wait_note("connected")
    gateway.post(scg, fixture_json("scg-receipt-delivered.json"))
    code, lines = tail.finish()
    assert code == 0 and len(lines) == 1
    receipt = json.loads(lines[0])
    assert receipt["type"] == "receipt:delivered"
    assert receipt["receipt"]["messageId"] == "176ySDuGoChplVgiz2lcm7"

    # --since: the events after that id are replayed first, whatever came before it.
    before = f"{int(receipt['id'][:13]) - 60_000:013d}-000000"
    again = TailProcess("--token", token, "--url", gateway.url, "--since", receipt["id"],
                        "--count", "1")  # fmt: skip
    tails.append(again)
    again.wait_note("connected")
    gateway.post(scg, {**fixture_json("scg-mo-message.json"), "event_id": "another-mo"})
    code, lines = again.finish()
    assert code == 0
    assert lines[0].split(" ", 1)[1].startswith("message:customer")
    assert lines[0].endswith("Is my package coming today?")
    assert before < receipt["id"]


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("not-a-jwt", "the gateway refused the token (invalid or expired) (4001)"),
        (agent_token("ana", []), "the token grants no hub (4003)"),
    ],
)
def test_a_refused_token_is_one_line_and_exit_2(
    gateway: RunningGateway, token: str, expected: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "tail", "--token", token, "--url", gateway.url],
        cwd=ROOT,
        env=gateway_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith(f"gateway: tail: {expected}")


@pytest.mark.parametrize("given", ["stdin", "GATEWAY_TOKEN", "nowhere"])
def test_the_token_can_stay_out_of_the_command_line(gateway: RunningGateway, given: str) -> None:
    """Read from stdin (`--token -`) or the environment; a token that grants no hub is
    refused with 4003, which shows it reached the gateway."""
    token = agent_token("ana", [])
    args = ["--token", "-"] if given == "stdin" else []
    env = {"GATEWAY_TOKEN": token} if given == "GATEWAY_TOKEN" else {}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "tail", *args, "--url", gateway.url],
        cwd=ROOT,
        env=gateway_env(env),
        input=token + "\n" if given == "stdin" else "",
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    expected = "the token grants no hub (4003)" if given != "nowhere" else "no token: give"
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"gateway: tail: {expected}")


def test_a_closed_pipe_ends_it_quietly(gateway: RunningGateway) -> None:
    """`tail | head -1`: once the reader is gone, tail exits 0 without a traceback."""
    hub = _hub()
    scg = gateway.integration("scg", hub, bearerToken="pipe-bearer")
    tail = subprocess.Popen(
        [sys.executable, "-m", "gateway", "tail", "--url", gateway.url],
        cwd=ROOT,
        env=gateway_env({"GATEWAY_TOKEN": agent_token("ana", [hub])}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert tail.stdout is not None and tail.stderr is not None
    assert "connected as ana" in tail.stderr.readline()
    tail.stdout.close()  # the reader is gone
    gateway.post(scg, fixture_json("scg-mo-message.json"))
    assert tail.wait(TIMEOUT) == 0
    assert tail.stderr.read() == ""
