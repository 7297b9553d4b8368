"""The shipped topology, end to end: `deploy/run-local.sh` starts a real redis-server, two
`python -m gateway serve` instances and a real HAProxy running `deploy/haproxy.cfg` (its
addresses moved to free loopback ports, and `source 127.0.0.3` on the servers so the
gateways can tell HAProxy from the test client, which sends from 127.0.0.2). Everything
below goes through the load balancer, except what checks that going around it fails.

One topology serves the module's tests in order; the kill -9 test and the last test take
the instances down."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

import signing
from gateway.commands.webhook_request import WebhookRequest
from tests.conftest import ROOT, gateway_env
from tests.redis_support import redis_server_binary
from tests.running_gateway import ADMIN_KEY, HUBSTER_HUB, HUBSTER_TENANT, agent_token
from tests.scale_support import (
    SCALE_ENV,
    Agent,
    Answer,
    WebhookLoad,
    access_lines,
    exited,
    free_port,
    marker,
    send,
    stored_texts,
    throw_away_certificate,
    wait_for,
    wait_until_every_agent_has,
    webhook,
)

CLIENT = "127.0.0.2"
BALANCER_SOURCE = "127.0.0.3"
TWILIO_TOKEN = "twilio-auth-token-through-the-balancer"

pytestmark = pytest.mark.skipif(
    shutil.which("haproxy") is None or redis_server_binary() is None,
    reason="haproxy and redis-server are needed (scripts/test installs them)",
)


def _balancer_config(directory: Path) -> Path:
    """deploy/haproxy.cfg as shipped, with HAProxy connecting from 127.0.0.3."""
    shipped = (ROOT / "deploy" / "haproxy.cfg").read_text()
    config, count = re.subn(
        r"^(\s*default-server .*)$", rf"\1 source {BALANCER_SOURCE}", shipped, flags=re.M
    )
    assert count == 1
    shutil.copytree(ROOT / "deploy" / "errors", directory / "errors")
    path = directory / "haproxy.cfg"
    path.write_text(config)
    return path


@dataclass
class Topology:
    script: subprocess.Popen[str]
    run_dir: Path
    ports: dict[str, int]
    env: dict[str, str]
    integration: dict[str, Any] = field(default_factory=dict)
    replacements: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports['REDIS_PORT']}/0"

    def pid(self, name: str) -> int:
        return int((self.run_dir / f"{name}.pid").read_text())

    def exit_status(self, gateway: int) -> int | None:
        """A gateway's exit status, once run-local.sh saw it exit."""
        path = self.run_dir / f"gateway{gateway}.status"
        return int(path.read_text()) if path.exists() and path.read_text().strip() else None

    def log(self, gateway: int) -> Path:
        return self.run_dir / f"gateway{gateway}.log"

    def through(self, method: str, path: str, body: Any = None, **headers: str) -> Answer:
        """A request to the balancer from the test client's address."""
        raw = json.dumps(body).encode() if body is not None else None
        if raw is not None:
            headers.setdefault("Content-Type", "application/json")
        port = self.ports["LB_PORT"]
        return send("127.0.0.1", port, method, path, raw, headers, source=CLIENT)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.through(method, path, body, Authorization=f"Bearer {ADMIN_KEY}")
        assert answer.status is not None and 200 <= answer.status < 300, answer
        return answer.json()

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ports['LB_PORT']}/ws"

    def handled_by(self, request_id: str) -> list[int]:
        """Which instances logged the request with this id."""
        return [
            gateway
            for gateway in (1, 2)
            if any(line["requestId"] == request_id for line in access_lines(self.log(gateway)))
        ]

    def runtime_api(self, command: str) -> str:
        """One command on HAProxy's admin socket (`stats socket` of deploy/haproxy.cfg)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as api:
            api.settimeout(5)
            api.connect(str(self.run_dir / "haproxy.sock"))
            api.sendall(command.encode() + b"\n")
            answer = b""
            while chunk := api.recv(65536):
                answer += chunk
        return answer.decode()

    def server_status(self, gateway: int) -> str:
        """HAProxy's view of an instance: UP, DOWN, ... (`show stat`)."""
        rows = self.runtime_api("show stat").splitlines()
        columns = rows[0].lstrip("# ").split(",")
        for row in rows[1:]:
            values = dict(zip(columns, row.split(","), strict=False))
            if values.get("pxname") == "gateways" and values.get("svname") == f"gateway{gateway}":
                return values["status"]
        raise AssertionError(f"no gateway{gateway} in show stat")

    def replace(self, gateway: int) -> None:
        """Start a new instance where one ended (a rolling restart), as run-local.sh
        starts one, logging to the same file."""
        port = self.ports[f"GATEWAY{gateway}_PORT"]
        with self.log(gateway).open("ab") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gateway",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                cwd=ROOT,
                env={**self.env, "GATEWAY_REDIS_URL": self.redis_url},
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.replacements.append(process)
        (self.run_dir / f"gateway{gateway}.pid").write_text(str(process.pid))


def _topology_env(directory: Path, ports: dict[str, int]) -> dict[str, str]:
    certificate = directory / "lb.pem"
    throw_away_certificate(certificate)
    return gateway_env(
        {
            **SCALE_ENV,
            "GATEWAY_TRUSTED_PROXIES": BALANCER_SOURCE,
            "GATEWAY_ALLOW_PRIVATE_TARGETS": "1",
            # Takeover of a killed instance's deliveries within 3 s (test-only margin).
            "GATEWAY_DELIVERY_TIMEOUT_SECONDS": "2",
            "GATEWAY_DELIVERY_LEASE_MARGIN_SECONDS": "1",
            "GATEWAY_RETRY_SCHEDULE": "0,1,1,1,1,1,1,1",
            **{name: str(port) for name, port in ports.items()},
            "LB_CERT": str(certificate),
            "HAPROXY_CONFIG": str(_balancer_config(directory)),
            "RUN_DIR": str(directory / "run"),
            "PYTHON": sys.executable,
        }
    )


@contextlib.contextmanager
def _run_local(directory: Path) -> Iterator[Topology]:
    """deploy/run-local.sh on free ports, until it printed `ready: `; stopped (SIGTERM) at
    the end unless the test stopped it."""
    ports = {
        name: free_port()
        for name in ("LB_PORT", "LB_TLS_PORT", "GATEWAY1_PORT", "GATEWAY2_PORT", "REDIS_PORT")
    }
    env = _topology_env(directory, ports)
    script = subprocess.Popen(
        [str(ROOT / "deploy" / "run-local.sh")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    topology = Topology(script, directory / "run", ports, env)
    try:
        assert script.stdout is not None
        lines = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (line := script.stdout.readline()):
            lines.append(line)
            if line.startswith("ready: "):
                break
        else:
            raise AssertionError(f"run-local.sh did not get ready: {lines}")
        yield topology
    finally:
        if script.poll() is None:
            script.send_signal(signal.SIGTERM)
        try:
            script.wait(60)
        except subprocess.TimeoutExpired:
            script.kill()
            for name in ("gateway1", "gateway2", "haproxy", "redis"):
                with contextlib.suppress(OSError, ValueError):
                    os.kill(topology.pid(name), signal.SIGKILL)
            raise
        finally:
            for process in topology.replacements:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(40)
                if process.poll() is None:
                    process.kill()
                    process.wait()


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    """The shipped topology with one Hubster integration, which every test may post to."""
    with _run_local(tmp_path_factory.mktemp("balancer")) as topology:
        body = {
            "name": "hubster",
            "kind": "hubster-system",
            "hubId": HUBSTER_HUB,
            "tenantId": HUBSTER_TENANT,
            "configuration": {},
        }
        topology.integration = topology.admin("POST", "/integrations", body)
        yield topology


def _token(n: int) -> str:
    return agent_token(f"agent-{n}", [HUBSTER_HUB])


def _agents(topology: Topology, count: int) -> list[Agent]:
    return [Agent(topology.ws_url, _token(n), source=CLIENT) for n in range(count)]


def _send(topology: Topology, request: WebhookRequest, **headers: str) -> Answer:
    port = topology.ports["LB_PORT"]
    all_headers = {**request.headers, **headers}
    return send("127.0.0.1", port, "POST", request.url, request.body, all_headers, source=CLIENT)


def test_webhooks_are_spread_stored_once_and_reach_every_agent_in_order(
    topology: Topology,
) -> None:
    agents = _agents(topology, 4)
    try:
        texts = [marker() for _ in range(30)]
        requests = [webhook(topology.integration, text) for text in texts]
        request_ids = [f"lb-test-{n}-{text[-8:]}" for n, text in enumerate(texts)]
        for request, request_id in zip(requests, request_ids, strict=True):
            answer = _send(topology, request, **{"X-Request-Id": request_id})
            assert answer.status == 202, answer
            assert answer.json() == {"accepted": 1, "duplicates": 0}
        handled = wait_for(
            lambda: (found := [topology.handled_by(rid) for rid in request_ids]) and all(found)
            and found,
            10,
            "every webhook in an instance's log",
        )  # fmt: skip
        assert all(len(by) == 1 for by in handled), "each webhook reached one instance"
        assert {by[0] for by in handled} == {1, 2}, "spread over both instances"

        # The provider redelivers: a duplicate whichever instance takes it.
        for request in requests[:6]:
            assert _send(topology, request).json() == {"accepted": 0, "duplicates": 1}
        assert stored_texts(topology.redis_url, "gw") == texts, "stored once each, in order"
        wait_for(
            lambda: all(agent.texts() == texts for agent in agents),
            15,
            "every agent to receive every event, in order",
        )
    finally:
        for agent in agents:
            agent.close()


def test_the_client_address_is_believed_only_from_the_balancer(topology: Topology) -> None:
    """Through HAProxy the gateways log the test client's address (HAProxy replaces what
    the client claims); sent straight to an instance, the same claims are ignored."""
    spoofed = {"X-Forwarded-For": "203.0.113.7", "Forwarded": "for=203.0.113.8;proto=https"}
    through = topology.through("GET", "/healthz", **spoofed, **{"X-Request-Id": "lb-via-proxy"})
    assert through.status == 200
    port = topology.ports["GATEWAY1_PORT"]
    headers = {**spoofed, "X-Request-Id": "lb-around-proxy"}
    direct = send("127.0.0.1", port, "GET", "/healthz", None, headers, source=CLIENT)
    assert direct.status == 200

    def logged(request_id: str) -> list[dict[str, Any]]:
        return [
            line
            for gateway in (1, 2)
            for line in access_lines(topology.log(gateway))
            if line["requestId"] == request_id
        ]

    [via] = wait_for(lambda: logged("lb-via-proxy"), 10, "the request through the proxy")
    [around] = wait_for(lambda: logged("lb-around-proxy"), 10, "the request around it")
    assert via["remoteAddress"] == CLIENT
    assert around["remoteAddress"] == CLIENT


def test_a_twilio_signature_over_the_https_url_verifies_through_the_balancer_only(
    topology: Topology,
) -> None:
    """Twilio signs the URL it called: HAProxy's TLS frontend. Only through HAProxy does the
    gateway know that URL (X-Forwarded-Proto from a trusted proxy); straight to an instance,
    the same request claiming it is refused."""
    body = {
        "name": "sms",
        "kind": "twilio",
        "hubId": "sms-hub",
        "configuration": {"authToken": TWILIO_TOKEN},
    }
    integration = topology.admin("POST", "/integrations", body)
    tls_port = topology.ports["LB_TLS_PORT"]
    path = f"/webhooks/{integration['integrationId']}"
    fields = {"MessageSid": "SM-through-tls", "From": "+14085551212", "To": "+15005550006"}
    fields["Body"] = "signed for the public URL"
    form = urlencode(fields).encode()
    signature = signing.twilio.sign(
        f"https://127.0.0.1:{tls_port}{path}", {k: [v] for k, v in fields.items()}, TWILIO_TOKEN
    )
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's throw-away certificate
    connection = http.client.HTTPSConnection(
        "127.0.0.1", tls_port, timeout=10, context=context, source_address=(CLIENT, 0)
    )
    try:
        connection.request("POST", path, body=form, headers=headers)
        response = connection.getresponse()
        assert response.status == 202, response.read()
        assert json.loads(response.read()) == {"accepted": 1, "duplicates": 0}
    finally:
        connection.close()

    claimed = {**headers, "Host": f"127.0.0.1:{tls_port}", "X-Forwarded-Proto": "https"}
    port = topology.ports["GATEWAY1_PORT"]
    direct = send("127.0.0.1", port, "POST", path, form, claimed, source=CLIENT)
    assert direct.status == 403, direct
    assert direct.json()["error"]["code"] == "signature_invalid"


class SlowSink:
    """A subscriber endpoint that holds every delivery while `hold` is set (answering none),
    notices when the gateway holding one goes away, and answers 200 once released."""

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.held: dict[int, str] = {}
        """Client port -> webhook-id of each delivery being held now."""
        self.dropped: list[tuple[int, str]] = []
        """(client port, webhook-id) of held deliveries whose connection went away."""
        self.delivered: list[str] = []
        """webhook-id of every delivery answered 200."""
        self._lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                event_id, port = self.headers["webhook-id"], self.client_address[1]
                with sink._lock:
                    sink.held[port] = event_id
                try:
                    while sink.hold.is_set():
                        if self._gone():
                            with sink._lock:
                                sink.dropped.append((port, event_id))
                            self.close_connection = True
                            return
                finally:
                    with sink._lock:
                        sink.held.pop(port, None)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with sink._lock:
                    sink.delivered.append(event_id)

            def _gone(self) -> bool:
                readable, _, _ = select.select([self.connection], [], [], 0.05)
                if not readable:
                    return False
                try:
                    return self.connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    return True

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.hold.clear()
        self._server.shutdown()
        self._server.server_close()


def _socket_owner(port: int, pids: list[int]) -> int | None:
    """Which of `pids` holds the TCP socket bound to local `port` (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for row in Path(table).read_text().splitlines()[1:]:
                columns = row.split()
                if int(columns[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(columns[9])
    for pid in pids:
        with contextlib.suppress(OSError):
            for descriptor in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(descriptor)
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        return pid
    return None


def _assert_balancers_503(answer: Answer, message: str) -> None:
    """HAProxy's own 503 in the gateway's error format: `unavailable` with `message`, the
    message again in UC-REST-ERROR, Retry-After, and the request id every answer carries."""
    assert answer.status == 503, answer
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert error == {"code": "unavailable", "message": message}
    assert answer.headers["uc-rest-error"] == message
    assert answer.headers["retry-after"] == "1"
    assert answer.headers["x-request-id"]


def _assert_answered_202_or_json_503(load: WebhookLoad) -> None:
    """The criterion for webhooks through the balancer while an instance goes away: 202,
    or HAProxy's JSON 503 (no instance to take it yet). Never a 502/504, an HTML page, or
    no answer at all."""
    for text, answer in load.answers:
        if answer.status == 202:
            continue
        assert answer.status == 503, (text, answer)
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["error"]["code"] == "unavailable"
        assert answer.headers["uc-rest-error"] == answer.json()["error"]["message"]


def test_sigterm_drains_an_instance_behind_the_balancer_without_losing_anything(
    topology: Topology,
) -> None:
    """A rolling restart's step: one instance gets SIGTERM under a stream of webhooks with
    agents connected. HAProxy hides its closed listener (retry-on conn-failure, redispatch);
    every webhook is answered 202; the instance exits 0; its agents are closed 1012 through
    the tunnel and resume on the other instance with lastEventId, missing nothing. Then a
    new instance takes its place and HAProxy sees it up (the runtime API)."""
    agents = _agents(topology, 4)
    port = topology.ports["LB_PORT"]
    load = WebhookLoad(topology.integration, "127.0.0.1", port, source=CLIENT)
    victim = 1
    pid = topology.pid(f"gateway{victim}")
    try:
        with load.running():
            wait_for(lambda: len(load.accepted()) >= 20, 20, "webhooks before the drain")
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: topology.exit_status(victim) is not None, 45, "the drained exit")
            accepted = len(load.accepted())
            wait_for(lambda: len(load.accepted()) >= accepted + 20, 20, "webhooks after it")
        assert topology.exit_status(victim) == 0
        _assert_answered_202_or_json_503(load)
        assert {answer.status for _, answer in load.answers} == {202}, "HAProxy hid the drain"
        accepted_texts = load.accepted()
        stored = stored_texts(topology.redis_url, "gw")
        assert set(accepted_texts) <= set(stored), "every webhook answered 202 is stored"
        assert len(stored) == len(set(stored))

        moved = [agent for agent in agents if agent.closes]
        assert moved, "the drained instance had sessions"
        assert all(agent.closes[0] == 1012 for agent in moved), [a.closes for a in moved]
        wait_until_every_agent_has(agents, accepted_texts)
        assert all(agent.recovered and agent.recovered[-1]["recovered"] for agent in moved)
    finally:
        for agent in agents:
            agent.close()

    # The next version takes its place; HAProxy's health checks bring it back.
    down = lambda: topology.server_status(victim).startswith("DOWN")  # noqa: E731
    wait_for(down, 10, "HAProxy to see the instance down")
    topology.replace(victim)
    wait_for(lambda: topology.server_status(victim) == "UP", 60, "the new instance up")


def test_kill_9_of_an_instance_loses_nothing(topology: Topology) -> None:
    """An instance holding delivery claims, websocket sessions and webhooks in flight is
    killed: its sessions reconnect through HAProxy with lastEventId and recover everything,
    its claimed deliveries go out from the other instance once their lease runs out, and
    every webhook is answered 202 or in the JSON error format, and stored when it was 202."""
    sink = SlowSink()
    subscriber = topology.admin("POST", "/subscribers", {"url": sink.url, "events": ["message"]})
    assert subscriber["enabled"]
    agents = _agents(topology, 4)
    port = topology.ports["LB_PORT"]
    load = WebhookLoad(topology.integration, "127.0.0.1", port, source=CLIENT)
    instances = {topology.pid("gateway1"): 1, topology.pid("gateway2"): 2}
    try:
        sink.hold.set()
        with load.running():
            # Wait for claims held by an instance: that one is killed.
            victim = wait_for(
                lambda: next(
                    (
                        owner
                        for held in list(sink.held)
                        if (owner := _socket_owner(held, list(instances)))
                    ),
                    None,
                ),
                15,
                "a delivery held by an instance",
            )
            held_by_victim = {
                event for held, event in list(sink.held.items())
                if _socket_owner(held, [victim]) == victim
            }  # fmt: skip
            os.kill(victim, signal.SIGKILL)
            wait_for(lambda: sink.dropped, 5, "the sink to see the victim's connections go")
            # Past the killed instance's leases (2 s timeout + 1 s margin) and its health.
            time.sleep(1.0)
            sink.hold.clear()
            accepted = len(load.accepted())
            wait_for(lambda: len(load.accepted()) >= accepted + 20, 30, "webhooks after it")
        survivor = 3 - instances[victim]
        taken_over = {event for _, event in sink.dropped} | held_by_victim
        assert taken_over, "the killed instance held deliveries"

        # Every answer was a 202 or HAProxy's JSON 503 (never HTML, never no answer at all).
        _assert_answered_202_or_json_503(load)
        accepted_texts = load.accepted()
        stored = stored_texts(topology.redis_url, "gw")
        assert set(accepted_texts) <= set(stored), "every webhook answered 202 is stored"
        assert len(stored) == len(set(stored))

        # The killed instance's agents came back through HAProxy and recovered the gap.
        wait_until_every_agent_has(agents, accepted_texts)
        moved = [agent for agent in agents if agent.closes]
        assert moved, "the killed instance had sessions"
        assert all(agent.recovered and agent.recovered[-1]["recovered"] for agent in moved)

        # Deliveries the killed instance had claimed went out from the survivor.
        wait_for(
            lambda: taken_over <= set(sink.delivered), 30, "the victim's deliveries, delivered"
        )
        # Through HAProxy, the client's address; HAProxy's own health checks, its own (and
        # run-local.sh's readiness probes, made straight to the instance, 127.0.0.1).
        survivor_log = access_lines(topology.log(survivor))
        webhooks = [line for line in survivor_log if line["route"].startswith("/webhooks/")]
        assert {line["remoteAddress"] for line in webhooks} == {CLIENT}
        checks = [line for line in survivor_log if line["route"] == "/readyz"]
        assert {line["remoteAddress"] for line in checks} == {BALANCER_SOURCE, "127.0.0.1"}
    finally:
        for agent in agents:
            agent.close()
        sink.close()


def test_with_no_instance_left_the_balancer_answers_503_in_json(topology: Topology) -> None:
    """The survivor is stopped (SIGTERM: it drains and exits): HAProxy's own 503 is the
    gateway's error format, with the same request id header every answer carries."""
    for name in ("gateway1", "gateway2"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(topology.pid(name), signal.SIGTERM)
    wait_for(
        lambda: all(exited(topology.pid(name)) for name in ("gateway1", "gateway2")),
        30,
        "both instances to exit",
    )
    answer = wait_for(
        lambda: (found := topology.through("GET", "/readyz")).status == 503 and found,
        10,
        "HAProxy to answer by itself",
    )
    _assert_balancers_503(answer, "No gateway instance is available; retry shortly.")


def test_run_local_stops_the_gateways_first_then_haproxy_gently_then_redis(
    tmp_path: Path,
) -> None:
    """Its own topology, everything alive, an agent connected through HAProxy: on SIGTERM
    the script stops the gateways and waits for them (the agent is closed 1012 through the
    tunnel HAProxy still carries, and each gateway exits 0), then soft-stops HAProxy
    (SIGUSR1), then stops Redis; it exits 0 and leaves nothing running."""
    with _run_local(tmp_path) as topology:
        started = {
            name: topology.pid(name) for name in ("gateway1", "gateway2", "haproxy", "redis")
        }
        agent = Agent(topology.ws_url, _token(0), source=CLIENT)
        try:
            topology.script.send_signal(signal.SIGTERM)
            assert topology.script.wait(60) == 0
            assert agent.closes and agent.closes[0] == 1012, agent.closes
        finally:
            agent.close()
        assert [topology.exit_status(n) for n in (1, 2)] == [0, 0]
        assert not [name for name, pid in started.items() if Path(f"/proc/{pid}").exists()]
        haproxy_log = (topology.run_dir / "haproxy.log").read_text()
        # Its soft stop says so; a hard stop (SIGTERM) exits without a word.
        assert "Proxy gateway stopped" in haproxy_log, haproxy_log


class _ResettingInstance:
    """An instance that takes every request and dies on it: healthy to HAProxy's checks
    (`/readyz` 200), it reads each other request whole and resets the connection (RST, as
    the kernel of a killed process does) instead of answering. `reset` counts them."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.reset = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.listener.accept()
                with connection:
                    self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        received = b""
        while b"\r\n\r\n" not in received and (chunk := connection.recv(65536)):
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        if head.startswith(b"GET /readyz "):
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        while length and len(body) < int(length[1]) and (chunk := connection.recv(65536)):
            body += chunk
        # Linger on, for 0 seconds: the close sends RST, not FIN.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.reset += 1

    def close(self) -> None:
        self.listener.close()


def test_a_request_no_instance_answered_is_503_when_replayable_and_502_otherwise(
    tmp_path: Path,
) -> None:
    """Every instance resets the connection without answering (as a killed one does): the
    race the kill -9 test above can meet, made certain. A webhook (which dedup makes safe to
    send again) is answered 503 `unavailable` with Retry-After, as the gateway answers when
    it cannot take a request: the provider retries. So is one HAProxy cannot replay (larger
    than its buffer). An admin write, which may have been applied, keeps HAProxy's 502:
    nothing tells its client that nothing was done."""
    instance = _ResettingInstance()
    port = free_port()
    env = {
        **os.environ,
        "LB_HTTP_BIND": f"127.0.0.1:{port}",
        "LB_HTTPS_BIND": f"127.0.0.1:{free_port()}",
        "LB_CERT": str(throw_away_certificate(tmp_path / "lb.pem")),
        "GATEWAY1_ADDR": instance.address,
        "GATEWAY2_ADDR": instance.address,
        "LB_ADMIN_SOCKET": str(tmp_path / "haproxy.sock"),
    }
    balancer = subprocess.Popen(
        ["haproxy", "-db", "-f", str(_balancer_config(tmp_path))],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    json_type = {"Content-Type": "application/json"}

    def through(path: str, body: bytes) -> tuple[Answer, int]:
        """The answer, and how many times the request reached an instance."""
        before = instance.reset
        answer = send("127.0.0.1", port, "POST", path, body, json_type)
        return answer, instance.reset - before

    try:
        wait_for(lambda: send("127.0.0.1", port, "GET", "/nowhere").status, 10, "HAProxy to listen")
        small, sent_small = through("/webhooks/x", b'{"activities": []}')
        large, sent_large = through("/webhooks/x", b'{"pad": "' + b"x" * 20_000 + b'"}')
        admin, sent_admin = through("/integrations", b"{}")
    finally:
        balancer.send_signal(signal.SIGUSR1)  # a soft stop: its log is written out first
        output, _ = balancer.communicate(timeout=30)
        instance.close()

    # HAProxy 2.6 replays a webhook when it reads the reset as the connection closing, and
    # answers at once when it reads it as an error (`http_wait_for_response`): which one
    # depends on timing, and either way the client is told to retry.
    assert sent_small in (1, 4), "sent once, or replayed: the first try and `retries 3`"
    assert sent_large == 1, "beyond tune.bufsize HAProxy cannot replay it"
    assert sent_admin == 1, "an admin write is never sent twice"
    for answer in (small, large):
        _assert_balancers_503(answer, "The gateway instance did not answer; retry shortly.")
    assert admin.status == 502, admin
    assert admin.json()["error"]["code"] == "unavailable"
    # HAProxy's log keeps what happened: the server aborted (SH) before its headers.
    posts = [line for line in output.splitlines() if '"POST /' in line]
    assert len(posts) == 3 and all(" SH-- " in line for line in posts), output
