"""One validation for a credential wherever it is given: a `whsec_` secret or a Hubster key
is refused by an integration and a subscriber alike, with the same words, naming the field;
`graceSeconds` is checked the same on `PATCH /integrations/{id}` and on rotate."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.delivery.support import AUTH, Gateway


def whsec(size: int) -> str:
    return "whsec_" + base64.b64encode(bytes(range(size))).decode()


async def refusal(response: Any) -> str:
    assert response.status == 400, await response.text()
    error = (await response.json())["error"]
    assert error["code"] == "invalid_payload"
    message: str = error["message"]
    return message


async def integration_refuses(gateway: Gateway, kind: str, configuration: dict[str, str]) -> str:
    body = {"name": "n", "kind": kind, "hubId": "h", "configuration": configuration}
    message = await refusal(await gateway.client.post("/integrations", json=body, headers=AUTH))
    assert message.startswith("configuration.")
    return message.removeprefix("configuration.")


async def subscriber_refuses(gateway: Gateway, **credential: str) -> str:
    format = "standard" if "secret" in credential else "hubster"
    body = {"url": "http://a.example/", "events": ["*"], "format": format, **credential}
    return await refusal(await gateway.client.post("/subscribers", json=body, headers=AUTH))


@pytest.mark.parametrize(
    "secret",
    [whsec(1), whsec(23), whsec(65), "whsec_!!!!", base64.b64encode(bytes(32)).decode()],
    ids=["1-byte", "23-bytes", "65-bytes", "not-base64", "no-prefix"],
)
async def test_a_bad_webhook_secret_is_refused_alike_on_both_sides(
    make_gateway: Any, secret: str
) -> None:
    gateway = await make_gateway()
    expected = "secret: must be a whsec_ secret (base64 of 24..64 bytes)"
    assert await integration_refuses(gateway, "standard", {"secret": secret}) == expected
    assert await subscriber_refuses(gateway, secret=secret) == expected


@pytest.mark.parametrize("size", [24, 64])
async def test_secrets_of_24_to_64_bytes_are_taken_on_both_sides(
    make_gateway: Any, size: int
) -> None:
    gateway = await make_gateway()
    body = {"name": "n", "kind": "standard", "hubId": "h", "configuration": {"secret": whsec(size)}}
    response = await gateway.client.post("/integrations", json=body, headers=AUTH)
    assert response.status == 201
    assert (
        await gateway.create_subscriber(url="http://a.example/", events=["*"], secret=whsec(size))
    )["secret"] == whsec(size)


@pytest.mark.parametrize("bad", ["a" * 32, "A" * 31, "G" * 32])
async def test_a_bad_hubster_key_is_refused_alike_on_both_sides(
    make_gateway: Any, bad: str
) -> None:
    gateway = await make_gateway()
    pair = {"publicSigningKey": bad, "privateSigningKey": "B" * 32}
    expected = "publicSigningKey: must be 32 upper-case hex characters"
    assert await integration_refuses(gateway, "hubster-system", pair) == expected
    assert await subscriber_refuses(gateway, **pair) == expected


async def test_half_a_hubster_key_pair_is_refused_alike_on_both_sides(make_gateway: Any) -> None:
    gateway = await make_gateway()
    half = {"privateSigningKey": "B" * 32}
    body = {"name": "n", "kind": "hubster-direct", "hubId": "h", "configuration": half}
    message = await refusal(await gateway.client.post("/integrations", json=body, headers=AUTH))
    expected = "give both publicSigningKey and privateSigningKey, or neither"
    assert message == f"configuration: {expected}"
    assert await subscriber_refuses(gateway, **half) == expected


BAD_GRACES = [-1, 10 * 365 * 86400 + 1, "60", True, "inf"]


@pytest.mark.parametrize("grace", BAD_GRACES)
async def test_a_bad_grace_is_refused_by_patch_and_rotate(make_gateway: Any, grace: Any) -> None:
    gateway = await make_gateway()
    body = {"name": "n", "kind": "scg", "hubId": "h"}
    created = await (await gateway.client.post("/integrations", json=body, headers=AUTH)).json()
    path = f"/integrations/{created['integrationId']}"
    patch = {"regenerateKeys": True, "graceSeconds": grace}
    message = await refusal(await gateway.client.patch(path, json=patch, headers=AUTH))
    assert message.startswith("graceSeconds: ")
    subscriber = await gateway.create_subscriber(url="http://a.example/", events=["*"])
    rotate = f"/subscribers/{subscriber['subscriberId']}/rotate"
    response = await gateway.client.post(rotate, json={"graceSeconds": grace}, headers=AUTH)
    assert (await refusal(response)).startswith("graceSeconds: ")
    unchanged = await (await gateway.client.get(path, headers=AUTH)).json()
    assert unchanged["configuration"] == created["configuration"]
