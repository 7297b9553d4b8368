"""Helpers for the inbound tests: a gateway in-process, providers' signatures, matching."""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import signing
from gateway.config import Settings
from gateway.engine import Engine
from gateway.engine.memory import MemoryEngine
from gateway.http.app import build_app

ADMIN_KEY = "inbound-tests-admin-key-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HUBSTER_HUB = "3bc1e69f-c520-446f-ab2c-01751fd66a31"
HUBSTER_TENANT = "abc1e69f-c888-875f-ee2c-45789fd66a00"


def make_app(engine: Engine | None = None, **settings: Any) -> web.Application:
    return build_app(
        Settings(port=0, **settings),
        engine or MemoryEngine(),
        admin_key=ADMIN_KEY,
        jwt_secret="inbound-tests-jwt-secret-0123456789abcdef",
    )


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def scg_event_between(mo: Mapping[str, Any], event_type: str, event_id: str) -> dict[str, Any]:
    """An SCG event of a type the gateway does not know, naming the addresses of `mo`."""
    fields = mo["event"]["fld-val-list"]
    pair = {"from_address": fields["from_address"], "to_address": fields["to_address"]}
    return {
        "topic": "SCG-Voice-Call",
        "event": {"evt-tp": event_type, "fld-val-list": {**pair, "call_id": "c2"}},
        "event-id": event_id,
    }


def expected(name: str) -> list[Any]:
    return list(orjson.loads((FIXTURES / "expected" / name).read_bytes()))


def is_subset(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where `actual` differs from `expected` as fixtures/expected/README.md defines it:
    every key an object lists must match recursively, lists match element by element."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        problems: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems.extend(is_subset(value, actual[key], f"{path}.{key}"))
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} elements, got {actual!r}"]
        return [
            p
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for p in is_subset(e, a, f"{path}[{i}]")
        ]
    if type(expected) is not type(actual) or expected != actual:
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []


def hubster_headers(
    body: bytes, integration: Mapping[str, Any], key: str | None = None
) -> dict[str, str]:
    private = key or integration["configuration"]["privateSigningKey"]
    return {
        "Content-Type": "application/json",
        "x-hubster-signature": signing.hubster.sign(body, private),
        "x-hubster-public-key": integration["configuration"]["publicSigningKey"],
    }


def scg_headers(integration: Mapping[str, Any]) -> dict[str, str]:
    config = integration["configuration"]
    if "bearerToken" in config:
        auth = f"Bearer {config['bearerToken']}"
    else:
        raw = f"{config['username']}:{config['password']}".encode()
        auth = "Basic " + base64.b64encode(raw).decode()
    return {"Content-Type": "application/json", "Authorization": auth}


def standard_headers(
    body: bytes,
    integration: Mapping[str, Any],
    msg_id: str = "msg_1",
    *,
    timestamp: int | None = None,
    key: str | None = None,
) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    secret = key or integration["configuration"]["secret"]
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signing.standard.sign(msg_id, stamp, body, [secret]),
    }


def _telnyx_account(seed: bytes) -> tuple[str, Ed25519PrivateKey]:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    return base64.b64encode(private.public_key().public_bytes_raw()).decode(), private


# Telnyx signs with its account's private key and shows the public one in its portal: the
# tests hold two fixed accounts (the second for rotation), signing with `cryptography` itself.
TELNYX_ACCOUNTS = dict(_telnyx_account(bytes([seed]) * 32) for seed in (1, 2))
TELNYX_PUBLIC_KEY, TELNYX_OTHER_PUBLIC_KEY = TELNYX_ACCOUNTS


def telnyx_headers(
    body: bytes,
    integration: Mapping[str, Any],
    *,
    timestamp: int | None = None,
    public_key: str | None = None,
) -> dict[str, str]:
    """Headers as Telnyx sends them: Ed25519 over `{timestamp}|{body}` with the private key
    of the integration's account (or of the account `public_key` names)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    private = TELNYX_ACCOUNTS[public_key or integration["configuration"]["publicKey"]]
    signature = private.sign(f"{stamp}|".encode() + body)
    return {
        "Content-Type": "application/json",
        "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
        "telnyx-timestamp": str(stamp),
    }


def twilio_form_headers(url: str, body: bytes, token: str) -> dict[str, str]:
    params = parse_qs(body.decode(), keep_blank_values=True)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signing.twilio.sign(url, params, token),
    }


@dataclass
class Gateway:
    """An in-process gateway behind a real HTTP test server."""

    client: TestClient
    engine: Engine

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))

    async def create(
        self,
        kind: str,
        hub_id: str = "hub-1",
        tenant_id: str | None = None,
        configuration: dict[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        body = {
            "name": f"{kind} test",
            "kind": kind,
            "hubId": hub_id,
            "tenantId": tenant_id,
            "configuration": configuration or {},
            **extra,
        }
        response = await self.client.post("/integrations", json=body, headers=ADMIN)
        assert response.status == 201, await response.text()
        return dict(await response.json())

    async def patch(self, integration: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
        path = f"/integrations/{integration['integrationId']}"
        response = await self.client.patch(path, json=changes, headers=ADMIN)
        assert response.status == 200, await response.text()
        return dict(await response.json())

    async def post(
        self,
        integration: Mapping[str, Any] | str,
        body: bytes,
        headers: Mapping[str, str],
        query: str = "",
    ) -> ClientResponse:
        integration_id = (
            integration if isinstance(integration, str) else integration["integrationId"]
        )
        return await self.client.post(
            f"/webhooks/{integration_id}{query}", data=body, headers=headers
        )

    async def stored(self) -> list[dict[str, Any]]:
        events = await self.engine.events.read_after("0", 10_000)
        return [dict(orjson.loads(event.payload)) for event in events]

    async def metric(self, line_prefix: str) -> float:
        text = await (await self.client.get("/metrics")).text()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(line_prefix):
                total += float(line.rsplit(" ", 1)[1])
        return total


GatewayFactory = Callable[..., Awaitable[Gateway]]


def signed(
    kind: str, integration: Mapping[str, Any], body: bytes, url: str, *, form: bool = False
) -> tuple[dict[str, str], str]:
    """Headers (and the query to post with) that authenticate `body` for any kind; `url`
    is the webhook URL without query. Twilio bodies are signed as JSON unless `form`."""
    config = integration["configuration"]
    if kind.startswith("hubster"):
        return hubster_headers(body, integration), ""
    if kind == "scg":
        return scg_headers(integration), ""
    if kind == "standard":
        return standard_headers(body, integration, f"msg-{hash(body)}"), ""
    if kind == "telnyx":
        return telnyx_headers(body, integration), ""
    if form:
        return twilio_form_headers(url, body, config["authToken"]), ""
    query = "?bodySHA256=" + signing.twilio.body_sha256(body)
    signature = signing.twilio.sign(url + query, None, config["authToken"])
    return {"Content-Type": "application/json", "X-Twilio-Signature": signature}, query


KIND_CONFIG: dict[str, dict[str, Any]] = {
    "hubster-system": {},
    "hubster-direct": {},
    "scg": {},
    "standard": {},
    "telnyx": {"publicKey": TELNYX_PUBLIC_KEY},
    "twilio": {"authToken": "tw-token"},
}
