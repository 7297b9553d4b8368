"""`python -m gateway serve` on Redis as a real process: the start-up lines, one webhook
stored in Redis, and the refusals (one line, exit status 2) of a Redis it must not run
against."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from gateway.config import Settings
from tests.conftest import ROOT, run_gateway, start_gateway
from tests.redis_support import RedisServer, free_port, fresh_prefix
from tests.running_gateway import ADMIN_KEY, GATEWAY_ENV


def _admin(url: str, method: str, path: str, body: object | None = None) -> object:
    request = urllib.request.Request(
        url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:{password}@127.0.0.1:{port}/0", "redis://:***@127.0.0.1:{port}/0"),
        (
            "redis://127.0.0.1:{port}/0?password={password}",
            "redis://127.0.0.1:{port}/0?password=***",
        ),
    ],
)
def test_serve_names_its_redis_without_the_password_and_keeps_state_there(
    tmp_path: Path, url: str, shown: str
) -> None:
    password = "s3cret-pass"
    server = RedisServer(
        tmp_path, "--requirepass", password, client_options={"password": password}
    ).start()
    prefix = fresh_prefix()
    url = url.format(password=password, port=server.port)
    env = {**GATEWAY_ENV, "GATEWAY_REDIS_URL": url, "GATEWAY_REDIS_KEY_PREFIX": prefix}
    gateway = start_gateway(env=env)
    try:
        assert gateway.engine == "redis"
        line = gateway.proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert line == f"redis: {shown.format(port=server.port)} (key prefix {prefix})"
        body = {"name": "n", "kind": "standard", "hubId": "hub-1", "configuration": {}}
        created = _admin(gateway.url, "POST", "/integrations", body)
        assert isinstance(created, dict)
        records = server.client().hkeys("{" + prefix + ":reg}:records:integration")
        assert [key.decode() for key in records] == [created["integrationId"]]
    finally:
        assert gateway.terminate() == 0
        server.stop()


def test_serve_refuses_an_evicting_redis_in_one_line(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, "--maxmemory-policy", "allkeys-lfu").start()
    try:
        env = {**GATEWAY_ENV, "GATEWAY_REDIS_URL": server.url}
        finished = run_gateway("serve", "--port", "0", env=env)
    finally:
        server.stop()
    assert finished.returncode == 2
    assert finished.stderr.count("\n") == 1
    assert "maxmemory-policy allkeys-lfu" in finished.stderr


def test_serve_refuses_a_redis_nobody_listens_on_in_one_line() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    finished = run_gateway("serve", "--port", "0", env={**GATEWAY_ENV, "GATEWAY_REDIS_URL": url})
    assert finished.returncode == 2
    assert finished.stderr.count("\n") == 1
    assert f"cannot reach redis at {url}" in finished.stderr


@pytest.mark.parametrize(
    "missing", ["GATEWAY_MASTER_KEYS", "GATEWAY_ADMIN_KEY", "GATEWAY_JWT_SECRET"]
)
def test_serve_on_redis_refuses_to_start_without_the_secrets_processes_share(
    missing: str,
) -> None:
    """Checked before connecting: nothing listens on the URL, and the refusal is still
    about the missing setting."""
    env = {**GATEWAY_ENV, "GATEWAY_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    del env[missing]
    finished = run_gateway("serve", "--port", "0", env=env)
    assert finished.returncode == 2
    assert finished.stderr.count("\n") == 1
    assert finished.stderr.startswith(f"gateway: the Redis engine needs {missing}")


def test_every_redis_setting_is_documented_and_in_the_example_configuration() -> None:
    doc = (ROOT / "docs" / "redis.md").read_text()
    example = (ROOT / "config" / "gateway.example.toml").read_text()
    for name in Settings.model_fields:
        if name.startswith("redis_"):
            assert f"GATEWAY_{name.upper()}" in doc, name
            assert f"{name} = " in example, name
