"""Secrets at rest on Redis, with real `python -m gateway serve` processes: after
integrations of every kind and subscribers of both formats are created, rotated and used
(a webhook in, deliveries out, an agent present), no secret is anywhere in Redis — in
plain text, base64, base64url or hex — and a gateway with the wrong master key refuses to
start in one line; a key rotation with `reencrypt` keeps the credentials usable."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis

from gateway.commands.check_config import PUBLIC_CREDENTIALS
from gateway.credentials.sealing import key_id
from tests.conftest import run_gateway
from tests.redis_support import RedisServer, fresh_prefix
from tests.running_gateway import (
    ADMIN_KEY,
    GATEWAY_ENV,
    JWT_SECRET,
    MASTER_KEY,
    RunningGateway,
    ThreadSink,
    agent_token,
    hubster_system,
    running,
)

CONFIGURATIONS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("hubster-system", {}, {"regenerateKeys": True}),
    ("hubster-direct", {}, {"regenerateKeys": True}),
    (
        "scg",
        {"username": "ess-user-7", "password": "scg-password-first-0123456789"},
        {"configuration": {"username": "ess-user-7", "password": "scg-password-next-987654"}},
    ),
    ("scg", {}, {"regenerateKeys": True}),
    ("standard", {}, {"regenerateKeys": True}),
    (
        "twilio",
        {"authToken": "twilio-auth-token-first-0123456789"},
        {"configuration": {"authToken": "twilio-auth-token-next-0123456789"}},
    ),
    ("telnyx", {"publicKey": "7UkoxijRwsbq6QM4kFmVYSlZJzpcY/k2NsFGFKyHN9E="}, {"name": "renamed"}),
]
SUBSCRIBER_SECRETS = ("secret", "privateSigningKey")


@dataclass
class Stored:
    """A prefix holding records of every kind, and every secret they were ever given."""

    env: dict[str, str]
    prefix: str
    hub: str
    hubster: dict[str, Any] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)


def _decoded_key(secret: str) -> bytes | None:
    """The key bytes a secret spells in base64 (`whsec_...`, a base64 key), if it does."""
    text = secret.removeprefix("whsec_")
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            continue
        if len(raw) >= 16:
            return raw
    return None


def encodings(secret: str) -> set[bytes]:
    """Every form a secret could be found in: its text, and the key it spells, each as it
    is, in base64, base64url (padded or not) and hex."""
    values = [secret.encode()]
    key = _decoded_key(secret)
    if key is not None:
        values.append(key)
    forms: set[bytes] = set()
    for value in values:
        for encoded in (base64.b64encode(value), base64.urlsafe_b64encode(value)):
            forms |= {encoded, encoded.rstrip(b"=")}
        forms |= {value, value.hex().encode(), value.hex().upper().encode()}
    return forms


def everything_under(client: redis.Redis, prefix: str) -> tuple[bytes, dict[str, int]]:
    """Every key under the prefix and all it holds, as one blob; and the keys by type."""
    parts: list[bytes] = []
    types: dict[str, int] = {}
    for key in client.scan_iter(match="{" + prefix + ":*", count=1000):
        kind = client.type(key).decode()
        types[kind] = types.get(kind, 0) + 1
        parts.append(key)
        if kind == "string":
            parts.append(client.get(key) or b"")
        elif kind == "hash":
            for name, value in client.hgetall(key).items():
                parts += [name, value]
        elif kind == "list":
            parts += client.lrange(key, 0, -1)
        elif kind == "set":
            parts += client.smembers(key)
        elif kind == "zset":
            for member, score in client.zrange(key, 0, -1, withscores=True):
                parts += [member, repr(score).encode()]
        elif kind == "stream":
            for entry_id, fields in client.xrange(key):
                parts.append(entry_id)
                for name, value in fields.items():
                    parts += [name, value]
        else:
            raise AssertionError(f"{key!r} is a {kind}, which this test cannot read")
    return b"\x00".join(parts), types


def _secret_values(configuration: dict[str, Any]) -> set[str]:
    return {v for k, v in configuration.items() if k not in PUBLIC_CREDENTIALS and v}


def _store_everything(gateway: RunningGateway, sink: ThreadSink, stored: Stored) -> None:
    for kind, configuration, change in CONFIGURATIONS:
        created = gateway.integration(kind, stored.hub, **configuration)
        path = f"/integrations/{created['integrationId']}"
        changed = gateway.admin("PATCH", path, {**change, "graceSeconds": 3600})
        stored.secrets |= _secret_values(created["configuration"])
        stored.secrets |= _secret_values(changed["configuration"])
        if kind == "hubster-system":
            stored.hubster = changed
    for format in ("standard", "hubster"):
        body = {"url": sink.url(), "events": ["*"], "format": format}
        created = gateway.admin("POST", "/subscribers", body)
        path = f"/subscribers/{created['subscriberId']}/rotate"
        rotated = gateway.admin("POST", path, {"graceSeconds": 3600})
        for view in (created, rotated):
            stored.secrets |= {view[name] for name in SUBSCRIBER_SECRETS if view.get(name)}
    message = {"type": "text", "text": "a message with its secrets kept"}
    gateway.post(stored.hubster, hubster_system("conv-secret", message, hub=stored.hub))
    deadline = time.monotonic() + 20
    while len(sink.received) < 2:
        assert time.monotonic() < deadline, "the deliveries never came"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def stored(redis_server: RedisServer) -> Iterator[Stored]:
    prefix = fresh_prefix()
    env = {
        "GATEWAY_REDIS_URL": redis_server.url,
        "GATEWAY_REDIS_KEY_PREFIX": prefix,
        "GATEWAY_ALLOW_PRIVATE_TARGETS": "1",
    }
    stored = Stored(env, prefix, hub=f"hub-{prefix}")
    sink = ThreadSink()
    try:
        with running(env=env) as gateway:
            from websockets.sync.client import connect

            ws_url = gateway.url.replace("http://", "ws://") + "/ws"
            token = agent_token("ann", [stored.hub])
            with connect(ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
                assert json.loads(ws.recv(timeout=10))["type"] == "ready"
                _store_everything(gateway, sink, stored)
            gateway.stop()
    finally:
        sink.close()
    yield stored


def test_no_secret_is_readable_anywhere_in_redis(stored: Stored, redis_server: RedisServer) -> None:
    blob, types = everything_under(redis_server.client(), stored.prefix)
    assert {"string", "hash", "stream", "zset"} <= set(types), types
    assert blob.count(b"aesgcm1.") == len(CONFIGURATIONS) + 2  # every record is sealed
    given = {ADMIN_KEY, JWT_SECRET, MASTER_KEY}
    assert len(stored.secrets) >= 2 * len(CONFIGURATIONS)
    for secret in stored.secrets | given:
        for form in encodings(secret):
            assert form not in blob, f"a secret is in Redis as {form[:6]!r}..."


def test_a_gateway_with_the_wrong_master_key_refuses_to_start_in_one_line(
    stored: Stored,
) -> None:
    wrong = secrets.token_urlsafe(32)
    env = {**GATEWAY_ENV, **stored.env, "GATEWAY_MASTER_KEYS": wrong}
    finished = run_gateway("serve", "--port", "0", env=env)
    assert finished.returncode == 2
    assert finished.stderr.count("\n") == 1
    line = finished.stderr
    assert "cannot use the stored credentials" in line
    assert f"master key id {key_id(base64.urlsafe_b64decode(MASTER_KEY + '='))}" in line
    assert wrong not in line and MASTER_KEY not in line


def test_a_master_key_rotated_with_reencrypt_keeps_the_credentials_usable(
    stored: Stored,
) -> None:
    new = secrets.token_urlsafe(32)
    both = {**GATEWAY_ENV, **stored.env, "GATEWAY_MASTER_KEYS": f"{new},{MASTER_KEY}"}
    finished = run_gateway("reencrypt", env=both)
    assert finished.returncode == 0, finished.stderr
    new_id = key_id(base64.urlsafe_b64decode(new + "="))
    count = len(CONFIGURATIONS)
    assert finished.stdout == (
        f"re-encrypted {count} integration records, 2 subscriber records under master key "
        f"id {new_id}\n"
    )
    only_old = {**both, "GATEWAY_MASTER_KEYS": MASTER_KEY}
    refused = run_gateway("serve", "--port", "0", env=only_old)
    assert refused.returncode == 2
    assert f"master key id {new_id}, which is not in GATEWAY_MASTER_KEYS" in refused.stderr

    with running(env={**stored.env, "GATEWAY_MASTER_KEYS": new}) as gateway:
        message = {"type": "text", "text": "after the rotation"}
        body = hubster_system("conv-rotated", message, hub=stored.hub)
        assert gateway.post(stored.hubster, body) == {"accepted": 1, "duplicates": 0}
        gateway.stop()


def test_reencrypt_on_the_memory_engine_says_there_is_nothing_to_do() -> None:
    finished = run_gateway("reencrypt", env={"GATEWAY_MASTER_KEYS": MASTER_KEY})
    assert finished.returncode == 2
    assert finished.stderr == (
        "gateway: reencrypt: nothing to re-encrypt: the memory engine keeps nothing between "
        "runs (set GATEWAY_REDIS_URL)\n"
    )
