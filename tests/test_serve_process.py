"""`python -m gateway serve` as a real process: start-up lines, configuration, exit codes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import (
    ROOT,
    START_LINE,
    GatewayProcess,
    gateway_env,
    run_gateway,
    start_gateway,
)


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_no_configuration_listens_on_8080_with_memory_engine_and_prints_admin_key() -> None:
    if _port_in_use(8080):
        pytest.skip("port 8080 is taken on this machine")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve"],
        cwd=ROOT,
        env=gateway_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        second = proc.stdout.readline().strip()
        assert first == "gateway listening on http://127.0.0.1:8080 (engine: memory)"
        assert second.startswith("admin key: ")
        assert len(second.removeprefix("admin key: ")) >= 32
        status, _ = _get("http://127.0.0.1:8080/healthz")
        assert status == 200
    finally:
        proc.terminate()
        assert proc.wait(20) == 0


def _loop_line(gateway: GatewayProcess) -> str:
    """The line after the contract's start-up lines (read by `start_gateway`)."""
    assert gateway.proc.stdout is not None
    return gateway.proc.stdout.readline().strip()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_event_loop_is_named_after_the_contract_lines(gateway_factory, loop: str) -> None:  # type: ignore[no-untyped-def]
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    gateway = gateway_factory(env={"GATEWAY_EVENT_LOOP": loop})
    assert START_LINE.fullmatch(gateway.lines[0]), gateway.lines
    assert gateway.lines[1].startswith("admin key: ")
    assert _loop_line(gateway) == f"event loop: {loop}"
    status, _ = _get(f"{gateway.url}/healthz")
    assert status == 200


def _without_uvloop(tmp_path: Path) -> dict[str, str]:
    """An environment in which `import uvloop` fails, as where it is not installed."""
    shim = tmp_path / "no-uvloop" / "uvloop"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('uvloop is not installed here')\n")
    return {"PYTHONPATH": str(shim.parent)}


def test_auto_falls_back_to_asyncio_without_uvloop(gateway_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gateway = gateway_factory(env=_without_uvloop(tmp_path))
    assert _loop_line(gateway) == "event loop: asyncio"


def test_uvloop_asked_for_but_missing_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_gateway(
        "serve", "--port", "0", env={**_without_uvloop(tmp_path), "GATEWAY_EVENT_LOOP": "uvloop"}
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "gateway: event_loop is uvloop, but uvloop cannot be imported (pip install '.[fast]')"
    ]
    assert result.stdout == ""


def test_admin_key_from_environment_is_not_printed(gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gateway = gateway_factory(env={"GATEWAY_ADMIN_KEY": "secret-admin-key-from-env-0123456789"})
    assert gateway.admin_key is None
    assert not any("secret-admin-key-from-env-0123456789" in line for line in gateway.lines)


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('host = "127.0.0.2"\nport = 0\nlog_level = "warning"\n')
    from_file = start_gateway("--config", str(config))
    try:
        assert from_file.host == "127.0.0.2"
    finally:
        assert from_file.terminate() == 0

    from_env = start_gateway("--config", str(config), env={"GATEWAY_HOST": "127.0.0.3"})
    try:
        assert from_env.host == "127.0.0.3"
    finally:
        assert from_env.terminate() == 0

    from_flag = start_gateway(
        "--config", str(config), "--host", "127.0.0.4", env={"GATEWAY_HOST": "127.0.0.3"}
    )
    try:
        assert from_flag.host == "127.0.0.4"
        status, _ = _get(f"{from_flag.url}/healthz")
        assert status == 200
    finally:
        assert from_flag.terminate() == 0


def test_config_path_from_gateway_config_variable(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('host = "127.0.0.5"\n')
    gateway = start_gateway(env={"GATEWAY_CONFIG": str(config)})
    try:
        assert gateway.host == "127.0.0.5"
    finally:
        assert gateway.terminate() == 0


@pytest.mark.parametrize(
    ("content", "env", "expected"),
    [
        ("prot = 8080\n", {}, "unknown setting 'prot'"),
        ('port = "eighty"\n', {}, "setting 'port'"),
        ("port = 70000\n", {}, "setting 'port'"),
        ("port = [\n", {}, "not valid TOML"),
        ("", {"GATEWAY_PORT": "abc"}, "setting 'port'"),
        ("", {"GATEWAY_RETRY_SCHEDULE": "0,-5"}, "setting 'retry_schedule'"),
        ("", {"GATEWAY_LOG_LEVEL": "chatty"}, "setting 'log_level'"),
        ("", {"GATEWAY_INTEGRATIONS": "junk"}, "integrations"),
        ("", {"GATEWAY_ADMIN_KEY": ""}, "setting 'admin_key'"),
        ("", {"GATEWAY_ADMIN_KEY": "k"}, "setting 'admin_key': Value error, must be at least 32"),
        ("", {"GATEWAY_ADMIN_KEY": "é" * 15}, "setting 'admin_key'"),
        ('jwt_secret = "short-secret"\n', {}, "setting 'jwt_secret'"),
        ("", {"GATEWAY_HISTORY_SECONDS": "1e308"}, "setting 'history_seconds'"),
        ("", {"GATEWAY_DEDUP_SECONDS": "3600"}, "dedup_seconds (3600) must be at least"),
        ("history_seconds = 600000\n", {}, "at least history_seconds (600000)"),
        ("", {"GATEWAY_HISTORY_MAX_BYTES": "0"}, "setting 'history_max_bytes'"),
        ("", {"GATEWAY_SUBSCRIBER_MAX_DEAD_BYTES": "-1"}, "setting 'subscriber_max_dead_bytes'"),
        ("integrations = [1]\n", {}, "setting 'integrations.0'"),
        ("port = { a = 1 }\n", {}, "setting 'port'"),
        ("", {"GATEWAY_EVENT_LOOP": "trio"}, "setting 'event_loop'"),
    ],
)
def test_bad_configuration_exits_2_with_one_line(
    tmp_path: Path, content: str, env: dict[str, str], expected: str
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(content)
    result = run_gateway("serve", "--config", str(config), env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unreadable_configuration_file_exits_2(tmp_path: Path) -> None:
    result = run_gateway("serve", "--config", str(tmp_path / "missing.toml"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"gateway: cannot read configuration file {tmp_path / 'missing.toml'}: "
        "No such file or directory"
    ]


def test_port_in_use_exits_2_with_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_gateway("serve", "--port", str(port))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in lines[0]
    assert "Traceback" not in result.stderr


def test_one_json_log_line_per_request_without_secrets(tmp_path: Path) -> None:
    log_file = tmp_path / "gateway.log"
    admin_key = "admin-key-that-must-not-be-logged"
    gateway = start_gateway(env={"GATEWAY_ADMIN_KEY": admin_key}, log_file=log_file)
    try:
        request = urllib.request.Request(
            f"{gateway.url}/integrations?pageSize=5",
            headers={"Authorization": f"Bearer {admin_key}", "X-Request-Id": "trace-7"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
    finally:
        assert gateway.terminate() == 0
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    access = [line for line in lines if line.get("logger") == "gateway.access"]
    assert len(access) == 1
    assert access[0]["method"] == "GET"
    assert access[0]["route"] == "/integrations"
    assert access[0]["status"] == 200
    assert access[0]["requestId"] == "trace-7"
    assert isinstance(access[0]["durationMs"], float)
    assert admin_key not in log_file.read_text()


def test_log_level_from_configuration_silences_request_lines(tmp_path: Path) -> None:
    log_file = tmp_path / "gateway.log"
    gateway = start_gateway(env={"GATEWAY_LOG_LEVEL": "warning"}, log_file=log_file)
    try:
        status, _ = _get(f"{gateway.url}/healthz")
        assert status == 200
    finally:
        assert gateway.terminate() == 0
    assert "gateway.access" not in log_file.read_text()


def test_configuration_file_that_is_not_utf8_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "latin1.toml"
    config.write_bytes(b"port = 8080\n# caf\xe9\n")
    result = run_gateway("serve", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"gateway: configuration file {config} is not UTF-8 text"
    ]


def test_bad_command_line_is_one_line_with_exit_2() -> None:
    result = run_gateway("serve", "--port", "abc")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "gateway: python -m gateway serve: argument --port: invalid int value: 'abc' (see --help)"
    ]


def test_the_benchmark_is_not_a_gateway_command() -> None:
    """The benchmark is its own tool (`python -m bench`), outside the product package."""
    result = run_gateway("bench", "ingest")
    assert result.returncode == 2
    assert "invalid choice: 'bench'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
