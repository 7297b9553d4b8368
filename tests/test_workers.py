"""`python -m gateway serve --workers 2` on a real redis-server, as a real process tree:
both workers take requests, `/metrics` from either counts for both, a worker killed with
SIGKILL is restarted and nothing answered 202 is lost, a worker that cannot start is
restarted with growing delays, and SIGTERM drains every worker before exit 0.

One supervisor serves the module's tests in order (the last one stops it)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from gateway.engine.redis.keys import Keys
from tests.conftest import START_LINE, GatewayProcess, run_gateway, start_gateway
from tests.redis_support import RedisServer, free_port, fresh_prefix
from tests.running_gateway import HUBSTER_HUB, RunningGateway, agent_token, http
from tests.scale_support import (
    SCALE_ENV,
    Agent,
    Answer,
    WebhookLoad,
    access_lines,
    children,
    cmdline,
    exited,
    log_lines,
    marker,
    send,
    stored_texts,
    wait_for,
    wait_until_every_agent_has,
    webhook,
)

WEBHOOK_ROUTE = "/webhooks/{integration_id}"


@dataclass
class Workers:
    gateway: RunningGateway
    log: Path
    redis_url: str
    prefix: str
    integration: dict[str, Any]

    @property
    def pid(self) -> int:
        return self.gateway.process.proc.pid

    def worker_pids(self) -> dict[int, int]:
        """Worker id -> pid of the supervisor's live children."""
        found = {}
        for pid in children(self.pid):
            args = cmdline(pid)
            if "--worker" in args:
                found[int(args[args.index("--worker") + 1])] = pid
        return found

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    @property
    def ws_url(self) -> str:
        return self.gateway.url.replace("http://", "ws://") + "/ws"

    def post(self, text: str) -> Any:
        request = webhook(self.integration, text)
        return http("POST", self.gateway.url + request.url, request.body, request.headers)


def _stop(process: GatewayProcess) -> None:
    """SIGTERM first, so the supervisor removes its metrics directory; SIGKILL if stuck."""
    if process.proc.poll() is None:
        process.proc.terminate()
        try:
            process.proc.wait(30)
        except subprocess.TimeoutExpired:
            process.proc.kill()
            process.proc.wait()


def _env(redis_url: str, prefix: str) -> dict[str, str]:
    return {
        **SCALE_ENV,
        "GATEWAY_REDIS_URL": redis_url,
        "GATEWAY_REDIS_KEY_PREFIX": prefix,
        "GATEWAY_ALLOW_PRIVATE_TARGETS": "1",
    }


@pytest.fixture(scope="module")
def workers(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    prefix = fresh_prefix()
    log = tmp_path_factory.mktemp("workers") / "gateway.log"
    process = start_gateway(
        "--workers", "2", env=_env(redis_server.url, prefix), log_file=log, timeout=60
    )
    gateway = RunningGateway(process)
    try:
        integration = gateway.integration("hubster-system", HUBSTER_HUB)
        yield Workers(gateway, log, redis_server.url, prefix, integration)
    finally:
        _stop(process)


def test_start_up_lines_then_one_line_per_worker_count(workers: Workers) -> None:
    lines = workers.gateway.process.lines
    assert START_LINE.fullmatch(lines[0]), lines
    assert lines[0].endswith("(engine: redis)")
    stdout = workers.gateway.process.proc.stdout
    assert stdout is not None
    assert stdout.readline().strip() == "workers: 2", "the second line"
    redis_line = f"redis: {workers.redis_url} (key prefix {workers.prefix})"
    assert stdout.readline().strip() == redis_line, "as a single process names it"
    assert stdout.readline().strip() in ("event loop: uvloop", "event loop: asyncio")
    assert sorted(workers.worker_pids()) == [1, 2]
    # Each worker is an instance of its own on the engine (presence, delivery leases).
    instances = Keys(workers.prefix).instances
    wait_for(lambda: workers.redis().zcard(instances) == 2, 10, "two engine instances")


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_with_the_memory_engine_more_than_one_worker_stops_start_up(how: str) -> None:
    if how == "flag":
        finished = run_gateway("serve", "--workers", "2", "--port", "0")
    else:
        finished = run_gateway("serve", "--port", "0", env={"GATEWAY_WORKERS": "2"})
    assert finished.returncode == 2
    assert finished.stdout == ""
    [line] = finished.stderr.splitlines()
    assert "workers = 2 needs the Redis engine" in line


def test_a_refusal_every_worker_would_meet_is_one_line(tmp_path: Path) -> None:
    """Redis out of reach: worker 1 says so once, no other worker is started, exit 2."""
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    finished = run_gateway("serve", "--workers", "3", "--port", "0", env=_env(unreachable, "x"))
    assert finished.returncode == 2
    assert finished.stdout == ""
    [line] = finished.stderr.splitlines()
    assert line.startswith("gateway: cannot reach redis at ")


def test_a_port_in_use_stops_start_up_even_by_another_supervisor(workers: Workers) -> None:
    """SO_REUSEPORT must not let a second supervisor join the first one's workers."""
    port = str(workers.gateway.process.port)
    env = _env(workers.redis_url, workers.prefix)
    finished = run_gateway("serve", "--workers", "2", "--port", port, env=env)
    assert finished.returncode == 2
    [line] = finished.stderr.splitlines()
    assert line == f"gateway: cannot listen on 127.0.0.1:{port}: Address already in use"
    with socket.socket() as plain:
        plain.bind(("127.0.0.1", 0))
        plain.listen()
        taken = str(plain.getsockname()[1])
        finished = run_gateway("serve", "--workers", "2", "--port", taken, env=env)
    assert finished.returncode == 2
    assert finished.stderr.startswith(f"gateway: cannot listen on 127.0.0.1:{taken}")


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_both_workers_take_requests_and_metrics_count_for_both(workers: Workers) -> None:
    texts = [marker() for _ in range(30)]
    for text in texts:
        assert workers.post(text).status == 202
    taken = wait_for(
        lambda: {line["worker"] for line in access_lines(workers.log, WEBHOOK_ROUTE)} == {1, 2},
        10,
        "webhooks answered by both workers",
    )
    assert taken
    agents = _agents_on_both_workers(workers)
    try:
        scrapes = _answers_from_both_workers(workers, "/metrics")
        wait_for(
            lambda: {line["worker"] for line in access_lines(workers.log, "/metrics")} == {1, 2},
            10,
            "each worker to log what it answered, with its id",
        )
        for answer in scrapes:
            text = answer.body.decode()
            accepted = _metric(text, "gateway_webhooks_total", outcome="accepted")
            assert accepted == 30, "every worker's webhooks, whichever worker is asked"
            assert _metric(text, "gateway_events_stored_total") == 30
            assert _metric(text, "gateway_ws_sessions") == len(agents)
    finally:
        for agent in agents:
            agent.close()
    assert stored_texts(workers.redis_url, workers.prefix) == texts


def _token(n: int) -> str:
    return agent_token(f"agent-{n}", [HUBSTER_HUB])


MAX_TRIES = 40
"""The kernel spreads connections over the workers by a hash: whether a few land on both
is chance, so tests that need both keep connecting until they do (bounded)."""


def _agents_on_both_workers(workers: Workers, at_least: int = 4) -> list[Agent]:
    agents: list[Agent] = []
    while len(agents) < at_least or {agent.workers[0] for agent in agents} != {"1", "2"}:
        assert len(agents) < MAX_TRIES, "no session reached one of the workers"
        agents.append(Agent(workers.ws_url, _token(len(agents))))
    return agents


def _answers_from_both_workers(workers: Workers, path: str, at_least: int = 4) -> list[Answer]:
    process = workers.gateway.process
    answers: list[Answer] = []
    while len(answers) < at_least or {a.headers["X-Gateway-Worker"] for a in answers} != {
        "1",
        "2",
    }:
        assert len(answers) < MAX_TRIES, "no request reached one of the workers"
        answers.append(send(process.host, process.port, "GET", path))
    return answers


def test_a_killed_worker_is_restarted_and_nothing_accepted_is_lost(workers: Workers) -> None:
    """SIGKILL of the worker some agents are on, under a stream of webhooks: the supervisor
    logs it and starts another; every webhook answered 202 is stored once; the agents it
    held reconnect to the port and recover everything, in order."""
    before = stored_texts(workers.redis_url, workers.prefix)
    agents = [Agent(workers.ws_url, _token(n)) for n in range(4)]
    victim_id = int(agents[0].workers[0] or 0)
    victim = workers.worker_pids()[victim_id]
    survivor = workers.worker_pids()[3 - victim_id]
    process = workers.gateway.process
    load = WebhookLoad(workers.integration, process.host, process.port)
    seen = len(log_lines(workers.log))
    try:
        with load.running():
            wait_for(lambda: len(load.accepted()) >= 20, 20, "webhooks accepted before the kill")
            os.kill(victim, signal.SIGKILL)
            wait_for(
                lambda: _supervisor_lines(workers, seen, f"worker {victim_id} restarted"),
                30,
                "the supervisor to restart the worker",
            )
            restart_logged = len(log_lines(workers.log))
            accepted = len(load.accepted())
            wait_for(lambda: len(load.accepted()) >= accepted + 30, 20, "webhooks after it")
        [died] = _supervisor_lines(workers, seen, f"worker {victim_id} (pid {victim})")
        assert re.fullmatch(
            rf"worker {victim_id} \(pid {victim}\) was killed by SIGKILL; "
            r"restarting it in (0|0\.5)s",
            died["msg"],
        )
        assert died["level"] == "error" and died["worker"] == victim_id
        pids = workers.worker_pids()
        assert pids[3 - victim_id] == survivor and pids[victim_id] != victim
        served_after = [
            line
            for line in log_lines(workers.log)[restart_logged:]
            if line.get("route") == WEBHOOK_ROUTE
        ]
        assert {line["worker"] for line in served_after} == {1, 2}, "the new worker serves too"

        statuses = {answer.status for _, answer in load.answers}
        assert statuses <= {202, None}, statuses  # an answer, or a connection the kill cut
        stored = stored_texts(workers.redis_url, workers.prefix)[len(before) :]
        accepted_texts = load.accepted()
        assert set(accepted_texts) <= set(stored), "every webhook answered 202 is stored"
        assert len(stored) == len(set(stored)), "none twice"

        wait_until_every_agent_has(agents, accepted_texts)
        moved = [agent for agent in agents if len(agent.workers) > 1]
        assert agents[0] in moved, "the victim's agents reconnected"
        assert all(agent.recovered and agent.recovered[-1]["recovered"] for agent in moved)

        # The dead worker's sessions left the host's gauge (its file was removed when it
        # was buried); its counts stayed in the host's totals; the restart is counted.
        metrics = http("GET", workers.gateway.url + "/metrics").body.decode()
        assert _metric(metrics, "gateway_ws_sessions") == len(agents)
        restarts = "gateway_worker_restarts_total"
        assert _metric(metrics, restarts, worker=str(victim_id)) == 1
        assert _metric(metrics, restarts, worker=str(3 - victim_id)) == 0
        # Counted before the 202, stored before counted: the kill may fall between the two.
        stored_total = _metric(metrics, "gateway_events_stored_total")
        assert len(before) + len(accepted_texts) <= stored_total <= len(before) + len(stored)
    finally:
        for agent in agents:
            agent.close()


def _supervisor_lines(workers: Workers, since: int, prefix: str) -> list[dict[str, Any]]:
    return [
        line
        for line in log_lines(workers.log)[since:]
        if line.get("logger") == "gateway.supervisor" and line["msg"].startswith(prefix)
    ]


def test_sigterm_drains_every_worker_and_exits_0(workers: Workers) -> None:
    """A webhook whose body is still arriving is answered 202, websockets on every worker
    are closed with 1012, and the supervisor exits 0."""
    agents = _agents_on_both_workers(workers)
    request = webhook(workers.integration, marker())
    head = f"POST {request.url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in request.headers.items()
    )
    head += f"Content-Length: {len(request.body)}\r\n\r\n"
    process = workers.gateway.process
    pids = list(workers.worker_pids().values())
    try:
        with socket.create_connection((process.host, process.port), timeout=20) as slow:
            slow.sendall(head.encode() + request.body[:20])
            time.sleep(0.3)
            process.proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            assert process.proc.poll() is None, "exited with a request in flight"
            slow.sendall(request.body[20:])
            answer = b""
            while chunk := slow.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 202 "), answer
        wait_for(lambda: all(1012 in agent.closes for agent in agents), 10, "1012 closes")
        assert process.proc.wait(30) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    finally:
        for agent in agents:
            agent.close()


def test_a_worker_that_cannot_start_is_restarted_with_growing_delays(
    tmp_path: Path,
) -> None:
    """Redis is gone when a worker dies: each new worker fails at start-up (one line, exit
    2), and the supervisor waits longer each time instead of looping; once Redis is back,
    the next one starts."""
    redis = RedisServer(tmp_path / "redis").start()
    log = tmp_path / "gateway.log"
    process = start_gateway(
        "--workers", "2", env=_env(redis.url, fresh_prefix()), log_file=log, timeout=60
    )
    try:
        gateway = Workers(RunningGateway(process), log, redis.url, "", {})
        victim = gateway.worker_pids()[1]
        redis.stop()
        os.kill(victim, signal.SIGKILL)
        failed = wait_for(
            lambda: (
                (found := _supervisor_lines(gateway, 0, "worker 1 failed to start"))[2:] and found
            ),
            30,
            "three failed starts",
        )
        delays = [line["restartInSeconds"] for line in failed]
        assert delays[:3] == [1, 2, 4], delays
        assert all("exited with status 2" in line["msg"] for line in failed)
        # Each refusal is in the supervisor's JSON line with the worker's id; the shared
        # stderr has no line of plain text.
        assert all(line["reason"].startswith("cannot reach redis at ") for line in failed)
        assert all(line["worker"] == 1 for line in failed)
        assert all(line["msg"].endswith(f"; restarting it in {line['restartInSeconds']:g}s")
                   for line in failed)  # fmt: skip
        assert [raw for raw in log.read_text().splitlines() if not raw.startswith("{")] == []
        redis.start()
        wait_for(
            lambda: _supervisor_lines(gateway, 0, "worker 1 restarted"), 30, "a started worker"
        )
        ready = lambda: http("GET", gateway.gateway.url + "/readyz").status == 200  # noqa: E731
        wait_for(ready, 15, "ready again")
        assert process.terminate(30) == 0
    finally:
        _stop(process)
        redis.stop()


def _own_workers(redis: RedisServer, log: Path, **env: str) -> GatewayProcess:
    return start_gateway(
        "--workers", "2", env={**_env(redis.url, fresh_prefix()), **env}, log_file=log, timeout=60
    )


def test_a_worker_whose_loop_died_leaves_and_is_replaced(tmp_path: Path) -> None:
    """Fault injection at Redis: the retention loop's XLEN is refused (an ACL), an error no
    loop expects, so the loop dies in each worker. Instead of answering /readyz 503 for good
    while still taking connections, each worker drains and exits 3; the supervisor logs it
    and starts another; once Redis allows XLEN again, the new workers stay and are ready."""
    redis = RedisServer(tmp_path / "redis").start()
    log = tmp_path / "gateway.log"
    process = _own_workers(redis, log)
    try:
        gateway = Workers(RunningGateway(process), log, redis.url, "", {})
        first = gateway.worker_pids()
        redis.client().execute_command("ACL", "SETUSER", "default", "-xlen")

        def left() -> list[dict[str, Any]]:
            found = _supervisor_lines(gateway, 0, "worker")
            died = [line for line in found if "(a background loop died)" in line["msg"]]
            return died if {line["worker"] for line in died} == {1, 2} else []

        exits = wait_for(left, 30, "both workers to leave with a dead loop")
        assert all("exited with status 3" in line["msg"] for line in exits)
        assert {line["pid"] for line in exits} >= set(first.values())
        assert all(line["level"] == "error" for line in exits)
        worker_lines = [line for line in log_lines(log) if line.get("worker") in (1, 2)]
        assert any(line.get("logger") == "gateway.loops" for line in worker_lines)
        redis.client().execute_command("ACL", "SETUSER", "default", "+xlen")
        ready = lambda: send(process.host, process.port, "GET", "/readyz").status == 200  # noqa: E731
        wait_for(
            lambda: (pids := gateway.worker_pids()).keys() == {1, 2}
            and not set(pids.values()) & set(first.values()) and ready(),
            60,
            "two new workers, ready",
        )  # fmt: skip
        time.sleep(2.5)  # longer than the retention loop's round: they stay
        assert not set(gateway.worker_pids().values()) & set(first.values())
        assert ready()
        assert process.terminate(30) == 0
    finally:
        _stop(process)
        redis.stop()


def test_a_worker_that_drained_before_its_supervisor_heard_the_sigterm_is_not_restarted(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """systemd's default KillMode=control-group signals every process of the unit: a worker
    may finish draining before the supervisor's own SIGTERM is handled. Its exit 0 is not a
    death: no restart is logged, and the supervisor exits 0."""
    log = tmp_path / "gateway.log"
    process = _own_workers(redis_server, log)
    try:
        gateway = Workers(RunningGateway(process), log, redis_server.url, "", {})
        worker = gateway.worker_pids()[1]
        os.kill(worker, signal.SIGTERM)
        wait_for(lambda: exited(worker), 20, "its exit")
        process.proc.send_signal(signal.SIGTERM)
        assert process.proc.wait(40) == 0
        assert _supervisor_lines(gateway, 0, "worker 1") == []
    finally:
        _stop(process)


def test_the_workers_of_a_killed_supervisor_drain_and_free_the_port(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """kill -9 of the supervisor: nothing would restart or stop its workers, so each one
    shuts down by itself (as on SIGTERM: websockets closed 1012) and the port is free."""
    log = tmp_path / "gateway.log"
    process = _own_workers(redis_server, log)
    try:
        gateway = Workers(RunningGateway(process), log, redis_server.url, "", {})
        pids = list(gateway.worker_pids().values())
        agent = Agent(gateway.ws_url, _token(0))
        try:
            process.proc.kill()
            process.proc.wait(10)
            wait_for(lambda: 1012 in agent.closes, 30, "the agent closed 1012")
        finally:
            agent.close()
        wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids), 45, "exits")
        gone = [line for line in log_lines(log) if "the supervisor" in line.get("msg", "")]
        assert {line["worker"] for line in gone} == {1, 2}
        with socket.socket() as probe:  # free again: nothing listens on it
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server does
            probe.bind((process.host, process.port))
            probe.listen()
    finally:
        _stop(process)
