"""Every secret of an integration or subscriber record is under its one `credentials`
member, current and previous alike, so that an engine encrypting secrets at rest has one
member to encrypt; nothing outside it carries a credential."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.credentials.rotation import RECORD_MEMBER
from tests.delivery.support import AUTH, Gateway

TELNYX_KEY = "7UkoxijRwsbq6QM4kFmVYSlZJzpcY/k2NsFGFKyHN9E="
CREATED: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("hubster-system", {}, {"regenerateKeys": True}),
    ("scg", {"username": "ess-user-7", "password": "pw-1"}, {"regenerateKeys": True}),
    ("scg", {}, {"regenerateKeys": True}),
    ("standard", {}, {"regenerateKeys": True}),
    ("twilio", {"authToken": "tw-1"}, {"configuration": {"authToken": "tw-2"}}),
    ("telnyx", {"publicKey": TELNYX_KEY}, {"name": "renamed"}),
]


def split(record: dict[str, Any]) -> tuple[bytes, bytes]:
    """The record's credentials member as JSON, and the rest of it as JSON."""
    rest = {name: value for name, value in record.items() if name != RECORD_MEMBER}
    return orjson.dumps(record[RECORD_MEMBER]), orjson.dumps(rest)


def assert_kept_in_the_member(record: dict[str, Any], values: set[str]) -> None:
    member, rest = split(record)
    for value in values:
        assert value.encode() in member
        assert value.encode() not in rest, f"{value} is outside {RECORD_MEMBER}"


async def test_integration_records_keep_every_credential_under_credentials(
    make_gateway: Any,
) -> None:
    gateway: Gateway = await make_gateway()
    for kind, configuration, patch in CREATED:
        body = {"name": "n", "kind": kind, "hubId": "h", "configuration": configuration}
        response = await gateway.client.post("/integrations", json=body, headers=AUTH)
        created = await response.json()
        path = f"/integrations/{created['integrationId']}"
        patched = await (await gateway.client.patch(path, json=patch, headers=AUTH)).json()
        values = {*created["configuration"].values(), *patched["configuration"].values()}
        stored = await gateway.engine.registry.get("integration", created["integrationId"])
        assert stored is not None
        assert_kept_in_the_member(stored.record, values)


async def test_subscriber_records_keep_every_credential_under_credentials(
    make_gateway: Any,
) -> None:
    gateway: Gateway = await make_gateway()
    for format, fields in (("standard", ("secret",)), ("hubster", ("privateSigningKey",))):
        created = await gateway.create_subscriber(
            url="http://a.example/", events=["*"], format=format
        )
        path = f"/subscribers/{created['subscriberId']}/rotate"
        rotated = await (await gateway.client.post(path, headers=AUTH)).json()
        values = {view[field] for view in (created, rotated) for field in fields}
        stored = await gateway.engine.registry.get("subscriber", created["subscriberId"])
        assert stored is not None
        assert_kept_in_the_member(stored.record, values)
