"""Integrations declared in the configuration file exist from start-up, idempotently; a bad
declaration stops start-up with a clear message."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.config import Settings
from gateway.engine.memory import MemoryEngine
from gateway.engine.registry import Registry
from gateway.http.app import build_app
from gateway.http.appkeys import ENGINE
from tests.conftest import NewEngine

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"publicSigningKey": "0123456789ABCDEF" * 2, "privateSigningKey": "FEDCBA9876543210" * 2}
DECLARED: list[dict[str, Any]] = [
    {
        "integrationId": "support-hub",
        "name": "Support",
        "kind": "hubster-system",
        "hubId": "hub-a",
        "tenantId": "t",
        "configuration": KEYS,
    },
    {"name": "SMS", "kind": "scg", "hubId": "sms-hub"},
]


async def test_declared_integrations_exist_and_restart_is_idempotent(
    aiohttp_client: Any, admin: dict[str, str]
) -> None:
    engine = MemoryEngine()
    settings = Settings(port=0, integrations=DECLARED)
    first = await aiohttp_client(
        build_app(settings, engine, admin_key="integrations-admin-key", jwt_secret="j")
    )
    listed = (await (await first.get("/integrations", headers=admin)).json())["results"]
    assert [item["name"] for item in listed] == ["Support", "SMS"]
    support = await (await first.get("/integrations/support-hub", headers=admin)).json()
    assert support["configuration"] == KEYS and support["statusId"] == 3000

    again = await aiohttp_client(
        build_app(settings, engine, admin_key="integrations-admin-key", jwt_secret="j")
    )
    relisted = (await (await again.get("/integrations", headers=admin)).json())["results"]
    assert relisted == listed


class StartTogether:
    """The registry, except that every `create` waits until each of the `parties` apps has
    reached its own (bounded by a timeout): all of them have made their record and
    generated keys before any writes, the worst case of processes starting together."""

    def __init__(self, inner: Registry, barrier: asyncio.Barrier, met: list[str]) -> None:
        self.inner, self.barrier, self.met = inner, barrier, met

    async def create(self, kind: str, record_id: str, record: Any) -> Any:
        async with asyncio.timeout(5):
            await self.barrier.wait()
        self.met.append(kind)
        return await self.inner.create(kind, record_id, record)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_apps_starting_together_create_one_record_and_one_set_of_keys(
    aiohttp_client: Any, admin: dict[str, str], new_engine: NewEngine
) -> None:
    """Three apps, each with its own engine over the same data (on Redis: three clients,
    as three processes have), declare the same integration and subscriber, each generating
    its own keys, and create them at the same moment: one record each, one set of keys,
    and every app serves the same."""
    parties = 3
    barrier, met = asyncio.Barrier(parties), []
    declared = {"integrations": [{"name": "SMS", "kind": "scg", "hubId": "sms-hub"}]}
    declared["subscribers"] = [{"url": "http://127.0.0.1:9/hook", "events": ["*"]}]
    settings = Settings(port=0, allow_private_targets=True, **declared)
    apps = []
    for _ in range(parties):
        engine = copy.copy(await new_engine())  # its own registry wrapper, shared data
        engine.registry = StartTogether(engine.registry, barrier, met)
        apps.append(build_app(settings, engine, admin_key="integrations-admin-key", jwt_secret="j"))
    clients = await asyncio.gather(*(aiohttp_client(app) for app in apps))
    assert sorted(met) == ["integration"] * parties + ["subscriber"] * parties

    seen = set()
    for client in clients:
        integrations = (await (await client.get("/integrations", headers=admin)).json())["results"]
        subscribers = (await (await client.get("/subscribers", headers=admin)).json())["results"]
        assert (len(integrations), len(subscribers)) == (1, 1)
        seen.add(orjson.dumps([integrations[0]["configuration"], subscribers[0]["secret"]]))
    assert len(seen) == 1, "the apps serve different keys"
    registry = apps[0][ENGINE].registry
    for kind in ("integration", "subscriber"):
        [record] = await registry.list(kind)
        assert record.version == 1, f"the {kind} was written more than once"
        assert await registry.changes(kind) == 1


def write_config(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(
        f'admin_key = "declared-tests-admin-key-0123456789"\nport = 0\n\n'
        f"[[integrations]]\n{table}\n"
    )
    return path


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('name = "x"\nkind = "fax"\nhubId = "h"', "kind"),
        ('name = "x"\nkind = "twilio"\nhubId = "h"', "configuration.authToken"),
        ('name = "x"\nkind = "scg"\nhubId = "h"\nstatusId = 1', "statusId"),
    ],
)
def test_bad_declaration_stops_start_up(tmp_path: Path, table: str, named: str) -> None:
    config = write_config(tmp_path, table)
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2
    assert "gateway: [[integrations]] #1: " + named in result.stderr
    assert "listening" not in result.stdout


def test_served_process_has_the_declared_integration(tmp_path: Path, gateway_factory: Any) -> None:
    config = write_config(
        tmp_path,
        'integrationId = "toml-sms"\nname = "SMS"\nkind = "scg"\nhubId = "sms-hub"\n'
        'configuration = { username = "ess", password = "pw" }',
    )
    gateway = gateway_factory(
        "--config", str(config), env={"GATEWAY_ADMIN_KEY": "declared-tests-admin-key-0123456789"}
    )
    request = urllib.request.Request(
        gateway.url + "/integrations/toml-sms",
        headers={"Authorization": "Bearer declared-tests-admin-key-0123456789"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        integration = json.loads(response.read())
    assert integration["configuration"] == {"username": "ess", "password": "pw"}
    assert integration["hubId"] == "sms-hub"
