"""The deployment files agree with each other and with the gateway: `deploy/haproxy.cfg` is
a configuration HAProxy accepts, its error pages are the gateway's JSON error format, its
timeouts fit the gateway's, `deploy/compose.yaml` (no Docker engine here: checked by
structure) runs the same topology with the same file, and the HAProxy example in
docs/security.md says what the shipped file says."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from gateway.config import Settings
from gateway.http.server import FINAL_CLOSE_SECONDS, WORKER_HEADER
from gateway.http.supervisor import STOP_MARGIN_SECONDS
from tests.conftest import ROOT
from tests.scale_support import throw_away_certificate

DEPLOY = ROOT / "deploy"
CONFIG = (DEPLOY / "haproxy.cfg").read_text()
ERROR_STATUSES = {400, 403, 408, 429, 500, 502, 503, 504}
UNAVAILABLE = {502, 503, 504}
DEFAULTS = Settings.model_fields


def _sections(text: str) -> dict[str, list[str]]:
    """`global`, `defaults`, `frontend NAME`, `backend NAME` -> their lines, comments out."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not line.strip():
            continue
        if not line[0].isspace():
            current = sections.setdefault(line.strip(), [])
        else:
            current.append(line.strip())
    return sections


SECTIONS = _sections(CONFIG)


def _seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h)?", value).groups()  # type: ignore[union-attr]
    return float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 0.001}[unit]


def _timeouts(lines: list[str]) -> dict[str, float]:
    return {
        parts[1]: _seconds(parts[2])
        for parts in (line.split() for line in lines)
        if parts[0] == "timeout"
    }


def _haproxy() -> str:
    found = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(found).exists():
        pytest.skip("haproxy is not installed (scripts/test installs it)")
    return found


def test_haproxy_accepts_the_shipped_configuration(tmp_path: Path) -> None:
    env = {"LB_CERT": str(throw_away_certificate(tmp_path / "lb.pem")), "PATH": "/usr/bin:/bin"}
    checked = subprocess.run(
        [_haproxy(), "-c", "-f", str(DEPLOY / "haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("status", sorted(ERROR_STATUSES))
def test_each_error_page_is_the_gateways_json_error_format(status: int) -> None:
    [line] = [line for line in SECTIONS["defaults"] if line.startswith(f"errorfile {status} ")]
    raw = (DEPLOY / line.split()[2]).read_bytes()
    head, body = raw.split(b"\r\n\r\n", 1)
    status_line, *header_lines = head.decode().split("\r\n")
    assert status_line.startswith(f"HTTP/1.1 {status} ")
    headers = dict(header.split(": ", 1) for header in header_lines)
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message"}
    assert headers["UC-REST-ERROR"] == error["message"]
    assert re.fullmatch(r"[a-z_]+", error["code"])
    if status in UNAVAILABLE:
        assert error["code"] == "unavailable"
        assert headers["Retry-After"] == "1"


def test_every_error_page_haproxy_may_answer_with_is_ours() -> None:
    pages = {int(line.split()[1]) for line in SECTIONS["defaults"] if line.startswith("errorfile")}
    assert pages == ERROR_STATUSES
    assert {int(path.stem) for path in (DEPLOY / "errors").glob("*.http")} == ERROR_STATUSES


def test_timeouts_fit_the_gateways_own() -> None:
    timeouts = _timeouts(SECTIONS["defaults"])
    heartbeat = DEFAULTS["ws_heartbeat_seconds"].default
    assert timeouts["tunnel"] >= 3 * heartbeat, "an idle websocket outlives missed heartbeats"
    assert timeouts["http-request"] <= DEFAULTS["http_header_timeout_seconds"].default
    assert timeouts["http-keep-alive"] <= DEFAULTS["http_keepalive_seconds"].default
    assert timeouts["client"] <= DEFAULTS["http_keepalive_seconds"].default
    assert timeouts["server"] > DEFAULTS["http_body_timeout_seconds"].default


def test_health_checks_retries_and_forwarded_headers() -> None:
    backend = SECTIONS["backend gateways"]
    frontend = SECTIONS["frontend gateway"]
    assert "option httpchk" in backend
    assert "http-check send meth GET uri /readyz" in backend
    assert "http-check expect status 200" in backend
    assert any(line.startswith("option redispatch") for line in backend)
    [retry_on] = [line for line in backend if line.startswith("retry-on ")]
    assert "conn-failure" in retry_on.split()
    assert "option forwardfor" in frontend
    assert "http-request del-header Forwarded" in frontend
    assert "http-request set-header X-Forwarded-Proto https if { ssl_fc }" in frontend
    assert any(line.startswith("http-request set-header X-Forwarded-Host ") for line in frontend)


def test_the_worker_header_stays_inside() -> None:
    """Which worker answered is in the gateways' logs; the world does not see it."""
    assert f"http-response del-header {WORKER_HEADER}" in SECTIONS["frontend gateway"]


DOCS = (ROOT / "docs" / "deploy.md").read_text()


def test_the_runtime_api_the_docs_use_exists() -> None:
    """Every runtime API command the docs give has an admin-level socket to go to."""
    commands = re.findall(r"`((?:set|disable|enable) server [^`]+)`", DOCS)
    assert commands, "the docs show how to drain an instance in HAProxy"
    [socket_line] = [line for line in SECTIONS["global"] if line.startswith("stats socket ")]
    assert socket_line.split()[-2:] == ["level", "admin"]
    assert "mode 600" in socket_line
    for command in commands:
        assert re.fullmatch(r"(set server \w+/\w+ state (drain|maint|ready))", command), command
        backend, server = command.split()[2].split("/")
        servers = [
            line.split()[1] for line in SECTIONS[f"backend {backend}"] if line.startswith("server ")
        ]
        assert server in servers


def test_the_docs_say_how_haproxy_stops_gracefully() -> None:
    assert "SIGUSR1" in DOCS and "systemctl reload haproxy" in DOCS
    assert "hard-stop-after" in DOCS
    [row] = [line for line in DOCS.splitlines() if line.startswith("| `hard-stop-after`")]
    assert "soft stop" in row and "SIGTERM" in row


def test_the_docs_say_every_trusted_proxy_must_drop_a_clients_forwarded() -> None:
    """A trusted proxy passing a client's own `Forwarded` through lets the client name
    itself (Forwarded wins): the docs say so, and the CDN advice keeps the del-header."""
    [row] = [line for line in DOCS.splitlines() if "CDN" in line and "del-header" in line]
    assert "keep `http-request del-header Forwarded`" in row
    assert "GATEWAY_TRUSTED_PROXY_HEADERS" in DOCS
    assert re.search(r"every trusted\s+proxy must remove or overwrite `Forwarded`", DOCS)


def _environment_names(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Z0-9_]+)\}", text))


def test_compose_runs_the_same_topology_with_the_same_configuration() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "gateway1", "gateway2", "haproxy"}
    haproxy = services["haproxy"]
    mounts = {
        target: source
        for source, target, _ in (volume.rsplit(":", 2) for volume in haproxy["volumes"])
    }
    config_dir = "/usr/local/etc/haproxy"
    assert mounts[f"{config_dir}/haproxy.cfg"] == "./haproxy.cfg"
    assert mounts[f"{config_dir}/errors"] == "./errors", "error pages beside the config"
    env = haproxy["environment"]
    assert env["LB_CERT"] in mounts, "the certificate is mounted where HAProxy reads it"

    # Every address the configuration reads comes from compose (or has its default).
    read = _environment_names(CONFIG)
    preset = {line.split()[1] for line in SECTIONS["global"] if line.startswith("presetenv")}
    assert read <= preset
    assert read <= set(env), read - set(env)

    # One server line per gateway service, at the port the image serves on.
    servers = [line.split() for line in SECTIONS["backend gateways"] if line.startswith("server ")]
    gateways = sorted(name for name in services if name.startswith("gateway"))
    assert [server[1] for server in servers] == gateways
    image_port = _image_port()
    for server in servers:
        variable = re.fullmatch(r'"\$\{(\w+)\}"', server[2])
        assert variable is not None
        host, port = env[variable[1]].split(":")
        assert host == server[1]
        assert int(port) == image_port, "the image's port"
        assert services[host]["networks"] == ["gateway"]

    # Published ports are the ones HAProxy binds.
    published = {entry.split(":")[1] for entry in haproxy["ports"]}
    assert published == {
        env["LB_HTTP_BIND"].rsplit(":", 1)[1],
        env["LB_HTTPS_BIND"].rsplit(":", 1)[1],
    }

    # The gateways believe HAProxy's forwarded headers, share Redis, and Redis never evicts.
    address = haproxy["networks"]["gateway"]["ipv4_address"]
    for name in gateways:
        gateway_env = services[name]["environment"]
        assert gateway_env["GATEWAY_TRUSTED_PROXIES"] == address
        assert gateway_env["GATEWAY_REDIS_URL"] == "redis://redis:6379/0"
    assert "noeviction" in services["redis"]["command"]


def test_the_security_docs_example_agrees_with_the_shipped_file() -> None:
    doc = (ROOT / "docs" / "security.md").read_text()
    assert "deploy/haproxy.cfg" in doc
    (example,) = re.findall(r"```\n(defaults\n.*?)```", doc, re.DOTALL)
    shown = _sections(example)
    shipped = _timeouts(SECTIONS["defaults"])
    for name, value in _timeouts(shown["defaults"]).items():
        assert shipped[name] == value, f"timeout {name}"
    [retry_on] = [line for line in shown["backend gateways"] if line.startswith("retry-on")]
    assert retry_on in SECTIONS["backend gateways"]


def _image_port() -> int:
    """The port the Dockerfile's image serves on: its CMD's `--port`, else the default, which
    its EXPOSE must name."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    [command] = re.findall(r"^CMD (\[.*\])$", dockerfile, re.M)
    arguments = json.loads(command)
    port = (
        int(arguments[arguments.index("--port") + 1])
        if "--port" in arguments
        else int(DEFAULTS["port"].default)
    )
    assert re.search(rf"^EXPOSE {port}$", dockerfile, re.M)
    return port


def _duration(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"s": 1, "m": 60}[unit]


def test_compose_gives_every_process_time_to_stop_gracefully() -> None:
    """Docker's SIGKILL comes after a supervisor's worst-case drain, and after HAProxy's
    soft stop (SIGUSR1, bounded by hard-stop-after)."""
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    worst_drain = (
        DEFAULTS["shutdown_timeout_seconds"].default + STOP_MARGIN_SECONDS + FINAL_CLOSE_SECONDS
    )
    for name in ("gateway1", "gateway2"):
        assert _duration(services[name]["stop_grace_period"]) > worst_drain
    haproxy = services["haproxy"]
    assert haproxy["stop_signal"] == "SIGUSR1"
    [hard_stop] = [line for line in SECTIONS["global"] if line.startswith("hard-stop-after ")]
    assert _duration(haproxy["stop_grace_period"]) > _seconds(hard_stop.split()[1])
