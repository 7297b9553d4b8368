"""Credential rotation for every kind (the old credential works during the grace period,
then stops), and pausing and resuming an integration."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from inbound_support import (
    HUBSTER_HUB,
    HUBSTER_TENANT,
    KIND_CONFIG,
    TELNYX_OTHER_PUBLIC_KEY,
    Gateway,
    GatewayFactory,
    fixture_bytes,
    signed,
)

GRACE_SECONDS = 1.0
# Credentials the provider issues are rotated by PATCHing in the new one.
ISSUED_BY_PROVIDER = {
    "telnyx": {"publicKey": TELNYX_OTHER_PUBLIC_KEY},
    "twilio": {"authToken": "rotated-token"},
}
BODIES = {
    "hubster-system": fixture_bytes("hubster-direct-event-typing.json"),
    "scg": fixture_bytes("scg-receipt-delivered.json"),
    "standard": b'{"type": "ping", "data": {}}',
    "telnyx": fixture_bytes("telnyx-message-received.json"),
    "twilio": orjson.dumps({"MessageSid": "SM1", "From": "+1", "To": "+2", "Body": "hi"}),
}


async def post_as(
    gateway: Gateway, kind: str, credentials: dict[str, Any], target: dict[str, Any]
) -> int:
    body = BODIES[kind]
    url = gateway.url(f"/webhooks/{target['integrationId']}")
    headers, query = signed(kind, credentials, body, url)
    response = await gateway.post(target, body, headers, query)
    return response.status


@pytest.mark.parametrize("kind", list(BODIES))
async def test_old_credential_valid_during_grace_only(
    make_gateway: GatewayFactory, kind: str
) -> None:
    gateway = await make_gateway(rotation_grace_seconds=GRACE_SECONDS)
    old = await gateway.create(
        kind, HUBSTER_HUB, HUBSTER_TENANT, configuration=dict(KIND_CONFIG[kind])
    )
    if kind in ISSUED_BY_PROVIDER:
        new = await gateway.patch(old, configuration=ISSUED_BY_PROVIDER[kind])
    else:
        new = await gateway.patch(old, regenerateKeys=True)
    assert new["configuration"] != old["configuration"]
    assert await post_as(gateway, kind, new, new) == 202
    assert await post_as(gateway, kind, old, new) == 202
    await asyncio.sleep(GRACE_SECONDS + 0.2)
    assert await post_as(gateway, kind, old, new) in (401, 403)
    assert await post_as(gateway, kind, new, new) == 202


async def test_paused_integration_refuses_then_resumes(gateway: Gateway) -> None:
    integration = await gateway.create("scg", "sms-hub", "acme")
    paused = await gateway.patch(integration, statusId=3002)
    assert await post_as(gateway, "scg", paused, paused) == 409
    assert await gateway.stored() == []
    resumed = await gateway.patch(integration, statusId=3000)
    assert await post_as(gateway, "scg", resumed, resumed) == 202
