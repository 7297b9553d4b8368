"""A redelivery is recognised by its dedup keys and answered without being normalised, on
every engine and for every provider: `gateway_webhooks_normalised_total` does not move,
`gateway_duplicates_total` counts each of its activities. A body only partly stored is
normalised and appended, and the append keeps the part already stored out."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from inbound_support import (
    HUBSTER_HUB,
    HUBSTER_TENANT,
    KIND_CONFIG,
    Gateway,
    GatewayFactory,
    fixture_bytes,
    signed,
)

from tests.conftest import NewEngine

NORMALISED = "gateway_webhooks_normalised_total"
DUPLICATES = "gateway_duplicates_total"
STANDARD_EVENT = b'{"type":"invoice.paid","timestamp":"2026-01-01T00:00:00Z","data":{"n":1}}'
TWILIO_STOP = b"MessageSid=SM1&From=%2B15550001&To=%2B15550002&Body=STOP&NumMedia=0"

CASES = [
    ("hubster-system", fixture_bytes("hubster-system-messages.json"), False),
    ("hubster-direct", fixture_bytes("hubster-direct-event-typing.json"), False),
    ("scg", fixture_bytes("scg-mo-message.json"), False),
    ("scg", fixture_bytes("scg-receipt-delivered.json"), False),
    ("telnyx", fixture_bytes("telnyx-message-received.json"), False),
    ("telnyx", fixture_bytes("telnyx-message-finalized.json"), False),
    ("standard", STANDARD_EVENT, False),
    ("twilio", TWILIO_STOP, True),
]


async def _post(
    gateway: Gateway, integration: dict[str, Any], kind: str, body: bytes, form: bool
) -> dict[str, int]:
    url = gateway.url(f"/webhooks/{integration['integrationId']}")
    headers, query = signed(kind, integration, body, url, form=form)
    response = await gateway.post(integration, body, headers, query)
    assert response.status == 202, await response.text()
    return dict(await response.json())


@pytest.mark.parametrize(
    ("kind", "body", "form"), CASES, ids=[f"{k}-{i}" for i, (k, *_) in enumerate(CASES)]
)
async def test_a_redelivery_is_never_normalised(
    new_engine: NewEngine, make_gateway: GatewayFactory, kind: str, body: bytes, form: bool
) -> None:
    gateway = await make_gateway(await new_engine())
    scope = (HUBSTER_HUB, HUBSTER_TENANT) if kind.startswith("hubster") else ("hub-1", None)
    integration = await gateway.create(kind, *scope, configuration=dict(KIND_CONFIG[kind]))
    first = await _post(gateway, integration, kind, body, form)
    assert first["accepted"] >= 1
    activities = first["accepted"] + first["duplicates"]
    assert await gateway.metric(NORMALISED) == 1
    for _ in range(3):
        again = await _post(gateway, integration, kind, body, form)
        assert again == {"accepted": 0, "duplicates": activities}
    assert await gateway.metric(NORMALISED) == 1
    assert await gateway.metric(DUPLICATES) == first["duplicates"] + 3 * activities
    assert len(await gateway.stored()) == first["accepted"]


async def test_a_body_partly_stored_is_normalised_and_stores_the_rest(
    new_engine: NewEngine, make_gateway: GatewayFactory
) -> None:
    gateway = await make_gateway(await new_engine())
    system = json.loads(fixture_bytes("hubster-system-messages.json"))
    integration = await gateway.create("hubster-system", HUBSTER_HUB, HUBSTER_TENANT)
    first_only = copy.deepcopy(system)
    first_only["activities"] = system["activities"][:1]
    stored = await _post(
        gateway, integration, "hubster-system", json.dumps(first_only).encode(), False
    )
    assert stored == {"accepted": 1, "duplicates": 0}
    both = await _post(gateway, integration, "hubster-system", json.dumps(system).encode(), False)
    assert both == {"accepted": len(system["activities"]) - 1, "duplicates": 1}
    assert await gateway.metric(NORMALISED) == 2
    assert len(await gateway.stored()) == len(system["activities"])
