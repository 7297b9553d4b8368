"""Credential rotation for every kind (the old credential works during the grace period,
then stops), revocation (`graceSeconds`, at most three previous credentials), and pausing
and resuming an integration."""

from __future__ import annotations

import asyncio
import time
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
    hubster_headers,
    signed,
)

import signing
from tests.running_gateway import http, running

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


# Revocation: `graceSeconds` on the PATCH, the cap on previous credentials.


async def accepted_until_refused(
    gateway: Gateway, kind: str, credentials: dict[str, Any], target: dict[str, Any]
) -> float:
    """Post with `credentials` until refused; how many seconds they were still accepted."""
    started = time.monotonic()
    while await post_as(gateway, kind, credentials, target) == 202:
        assert time.monotonic() - started < 15, "the old credential is still accepted"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.parametrize("kind", list(BODIES))
async def test_zero_grace_revokes_the_previous_credential_at_once(
    make_gateway: GatewayFactory, kind: str
) -> None:
    gateway = await make_gateway(rotation_grace_seconds=86400)
    old = await gateway.create(
        kind, HUBSTER_HUB, HUBSTER_TENANT, configuration=dict(KIND_CONFIG[kind])
    )
    change = (
        {"configuration": ISSUED_BY_PROVIDER[kind]}
        if kind in ISSUED_BY_PROVIDER
        else {"regenerateKeys": True}
    )
    new = await gateway.patch(old, graceSeconds=0, **change)
    assert new["previousCredentialsExpireAt"] is None
    assert await post_as(gateway, kind, old, new) in (401, 403)
    assert await post_as(gateway, kind, new, new) == 202


async def test_sixty_regenerations_leave_at_most_four_keys_tried(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe: 60 `regenerateKeys`, then one forged request. The HMACs it costs are
    counted at the verifier's boundary; the newest three previous keys still verify, the
    fourth-newest no longer does."""
    integration = await gateway.create("hubster-system", HUBSTER_HUB, HUBSTER_TENANT)
    keys = [integration["configuration"]]
    for _ in range(60):
        keys.append((await gateway.patch(integration, regenerateKeys=True))["configuration"])

    body = BODIES["hubster-system"]
    forged = hubster_headers(body, integration, key="F" * 32)
    hmacs: list[str] = []
    digest = signing.hubster._digest

    def counted(body: bytes, private_signing_key: str) -> bytes:
        hmacs.append(private_signing_key)
        return digest(body, private_signing_key)

    monkeypatch.setattr(signing.hubster, "_digest", counted)
    assert (await gateway.post(integration, body, forged)).status == 403
    assert len(hmacs) == 4
    assert hmacs == [key["privateSigningKey"] for key in keys[::-1][:4]]

    target = {"integrationId": integration["integrationId"], "configuration": keys[-1]}
    for key in keys[-4:]:
        assert await post_as(gateway, "hubster-system", {"configuration": key}, target) == 202
    assert await post_as(gateway, "hubster-system", {"configuration": keys[-5]}, target) == 403


async def test_an_old_scg_password_works_only_within_its_grace(
    make_gateway: GatewayFactory,
) -> None:
    """Changed with a 3 s grace, the first password keeps working for those 3 s only: a
    regenerateKeys meanwhile (with the default day of grace) does not extend it, and the
    password that one replaced keeps its own day."""
    gateway = await make_gateway(rotation_grace_seconds=86400)
    first = await gateway.create("scg", configuration={"username": "ess", "password": "first"})
    second = await gateway.patch(first, configuration={"password": "second"}, graceSeconds=3)
    assert await post_as(gateway, "scg", first, second) == 202
    third = await gateway.patch(second, regenerateKeys=True)
    assert third["configuration"]["password"] not in ("first", "second")
    assert await post_as(gateway, "scg", first, third) == 202

    assert await accepted_until_refused(gateway, "scg", first, third) < 3.5
    assert await post_as(gateway, "scg", second, third) == 202
    assert await post_as(gateway, "scg", third, third) == 202


async def test_a_regeneration_with_zero_grace_cuts_off_every_old_password(
    gateway: Gateway,
) -> None:
    first = await gateway.create("scg", configuration={"username": "ess", "password": "first"})
    second = await gateway.patch(first, configuration={"password": "second"})
    third = await gateway.patch(second, regenerateKeys=True, graceSeconds=0)
    for old in (first, second):
        assert await post_as(gateway, "scg", old, third) == 401
    assert await post_as(gateway, "scg", third, third) == 202


async def test_a_grace_alone_ends_the_grace_of_earlier_credentials(gateway: Gateway) -> None:
    old = await gateway.create("standard")
    new = await gateway.patch(old, regenerateKeys=True)
    assert new["previousCredentialsExpireAt"] is not None
    assert await post_as(gateway, "standard", old, new) == 202
    ended = await gateway.patch(new, graceSeconds=0)
    assert ended["configuration"] == new["configuration"]
    assert ended["previousCredentialsExpireAt"] is None
    assert await post_as(gateway, "standard", old, new) == 403
    assert await post_as(gateway, "standard", new, new) == 202


def test_a_real_gateway_revokes_on_request_and_keeps_three_previous_keys() -> None:
    """The review's probes against a real `python -m gateway serve`: after an SCG password
    change the old password worked for a day, and through a `regenerateKeys` too; after 60
    `regenerateKeys` every earlier Hubster key was still tried. Now `graceSeconds: 0`
    revokes at once, a later rotation does not bring a revoked password back, and only the
    three newest previous keys still verify."""
    receipt = fixture_bytes("scg-receipt-delivered.json")
    with running() as gateway:

        def status(record: dict[str, Any], body: bytes) -> int:
            request = gateway.signed(record, body)
            return http("POST", request.url, request.body, request.headers).status

        first = gateway.integration("scg", "sms-hub", username="ess", password="first-password")
        path = f"/integrations/{first['integrationId']}"
        change = {"configuration": {"password": "second-password"}, "graceSeconds": 0}
        second = gateway.admin("PATCH", path, change)
        assert (status(first, receipt), status(second, receipt)) == (401, 202)
        third = gateway.admin("PATCH", path, {"regenerateKeys": True})
        assert [status(record, receipt) for record in (first, second, third)] == [401, 202, 202]

        hubster = gateway.integration("hubster-system", HUBSTER_HUB)
        path = f"/integrations/{hubster['integrationId']}"
        records = [hubster] + [
            gateway.admin("PATCH", path, {"regenerateKeys": True}) for _ in range(60)
        ]
        body = fixture_bytes("hubster-direct-event-typing.json")
        answers = [status(record, body) for record in records[::-1][:6]]
        assert answers == [202, 202, 202, 202, 403, 403]
