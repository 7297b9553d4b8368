"""Admin bodies are accepted exactly as the OpenAPI document describes them. Each case here
is one schemathesis found the server accepting while the document said otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from tests.delivery.support import AUTH


async def _status(gateway: Any, method: str, path: str, body: Any) -> tuple[int, str]:
    response = await gateway.client.request(method, path, json=body, headers=AUTH)
    answer = await response.json()
    return response.status, answer.get("error", {}).get("code", "")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "n", "kind": "scg", "hubId": "h", "statusId": "3000"},
        {"name": "n", "kind": "scg", "hub_id": "h"},  # the Python name, not the JSON one
        {"name": "n", "kind": "scg", "hubId": "h", "rateLimitPerSecond": "5"},
    ],
    ids=["string-status", "python-name", "string-rate"],
)
async def test_integration_bodies_take_json_types_and_names_only(make_gateway, body):
    gateway = await make_gateway()
    assert await _status(gateway, "POST", "/integrations", body) == (400, "invalid_payload")


async def test_regenerate_keys_is_a_boolean_not_a_string(make_gateway):
    gateway = await make_gateway()
    created = await gateway.client.post(
        "/integrations", json={"name": "n", "kind": "scg", "hubId": "h"}, headers=AUTH
    )
    integration_id = (await created.json())["integrationId"]
    path = f"/integrations/{integration_id}"
    assert await _status(gateway, "PATCH", path, {"regenerateKeys": "yes"}) == (
        400,
        "invalid_payload",
    )
    assert (await _status(gateway, "PATCH", path, {"regenerateKeys": True}))[0] == 200


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://127.0.0.1:9/h", "events": ["*"], "ordered": "true"},
        {"url": "http://127.0.0.1:9/h", "events": ["*"], "disableAfterSeconds": "60"},
        {"url": "http://127.0.0.1:9/h", "events": ["*"], "format": "hubster",
         "publicSigningKey": "A" * 32 + "\n", "privateSigningKey": "B" * 32},
    ],
    ids=["string-bool", "string-number", "key-with-newline"],
)  # fmt: skip
async def test_subscriber_bodies_take_what_the_document_says(make_gateway, body):
    gateway = await make_gateway()
    assert await _status(gateway, "POST", "/subscribers", body) == (400, "invalid_payload")


@pytest.mark.parametrize(
    "body",
    [
        {"since": "5"},  # pydantic read a numeric string as epoch seconds
        {"since": "2026-01-01"},
        {"since": 1767225600},
        {"afterEventId": "١٧٦٤٧٧٩٤٠٠١٢٣-٠٠٠٠٠٤"},  # Arabic-Indic digits
        {"afterEventId": "1764779400123-000004\n"},
    ],
    ids=["numeric-text", "bare-date", "number", "other-digits", "trailing-newline"],
)
async def test_replay_ranges_are_rfc3339_times_or_ascii_event_ids(make_gateway, body):
    gateway = await make_gateway()
    subscriber = await gateway.create_subscriber(url="http://127.0.0.1:9/h", events=["*"])
    path = f"/subscribers/{subscriber['subscriberId']}/replay"
    assert await _status(gateway, "POST", path, body) == (400, "invalid_payload")
    accepted = await _status(gateway, "POST", path, {"since": "2026-01-01T00:00:00Z"})
    assert accepted[0] == 202
