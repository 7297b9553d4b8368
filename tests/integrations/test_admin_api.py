"""The integrations admin API (docs/openapi.json; credentials and rotation in
docs/activity-events.md)."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

import signing

HEX32 = re.compile(r"^[0-9A-F]{32}$")


async def create(client: TestClient, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {"name": "n", "kind": "scg", "hubId": "hub-1", **body}
    response = await client.post("/integrations", json=payload, headers=admin)
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def error(response: Any) -> tuple[int, str, str]:
    body = await response.json()
    return response.status, body["error"]["code"], body["error"]["message"]


@pytest.mark.parametrize("kind", ["hubster-system", "hubster-direct"])
async def test_hubster_kinds_get_a_key_pair(
    client: TestClient, admin: dict[str, str], kind: str
) -> None:
    created = await create(client, admin, kind=kind, tenantId="t-1")
    config = created["configuration"]
    assert HEX32.match(config["publicSigningKey"]) and HEX32.match(config["privateSigningKey"])
    assert config["publicSigningKey"] != config["privateSigningKey"]
    assert created["statusId"] == 3000 and created["tenantId"] == "t-1"
    assert set(created) == {
        "integrationId",
        "kind",
        "name",
        "hubId",
        "tenantId",
        "statusId",
        "configuration",
        "createdAt",
        "updatedAt",
        "previousCredentialsExpireAt",
        "rateLimitPerSecond",
    }
    assert created["createdAt"].endswith("Z")


async def test_given_hubster_keys_are_kept_and_checked(
    client: TestClient, admin: dict[str, str]
) -> None:
    keys = {"publicSigningKey": "A" * 32, "privateSigningKey": "0123456789ABCDEF" * 2}
    created = await create(client, admin, kind="hubster-direct", configuration=keys)
    assert created["configuration"] == keys
    response = await client.post(
        "/integrations",
        json={
            "name": "n",
            "kind": "hubster-direct",
            "hubId": "h",
            "configuration": {"publicSigningKey": "a" * 32, "privateSigningKey": "A" * 32},
        },
        headers=admin,
    )
    status, code, message = await error(response)
    assert (status, code) == (400, "invalid_payload") and message.startswith(
        "configuration.publicSigningKey"
    )


async def test_scg_credentials(client: TestClient, admin: dict[str, str]) -> None:
    generated = await create(client, admin)
    assert set(generated["configuration"]) == {"bearerToken"}
    assert len(generated["configuration"]["bearerToken"]) >= 32
    basic = await create(client, admin, configuration={"username": "ess", "password": "pw"})
    assert basic["configuration"] == {"username": "ess", "password": "pw"}
    assert basic["tenantId"] is None


async def test_standard_secret_or_public_key(client: TestClient, admin: dict[str, str]) -> None:
    generated = await create(client, admin, kind="standard")
    secret = generated["configuration"]["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    pair = signing.standard.generate_ed25519_key_pair()
    with_key = await create(
        client, admin, kind="standard", configuration={"publicKey": pair.public}
    )
    assert with_key["configuration"] == {"publicKey": pair.public}


async def test_twilio_requires_an_auth_token(client: TestClient, admin: dict[str, str]) -> None:
    created = await create(client, admin, kind="twilio", configuration={"authToken": "tok"})
    assert created["configuration"] == {"authToken": "tok"}
    response = await client.post(
        "/integrations", json={"name": "n", "kind": "twilio", "hubId": "h"}, headers=admin
    )
    assert (await error(response))[2].startswith("configuration.authToken")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "carrier-pigeon"}, "kind"),
        ({"hubId": ""}, "hubId"),
        ({"name": 5}, "name"),
        ({"statusId": 3001}, "statusId"),
        ({"surprise": 1}, "surprise"),
        ({"configuration": {"bearerToken": ""}}, "configuration.bearerToken"),
        ({"configuration": {"username": "a:b", "password": "p"}}, "configuration.username"),
        ({"configuration": {"username": "a"}}, "configuration"),
        ({"kind": "standard", "configuration": {"secret": "whsec_!!"}}, "configuration.secret"),
        (
            {"kind": "standard", "configuration": {"secret": "A" * 44}},
            "configuration.secret",
        ),
        (
            {"kind": "standard", "configuration": {"secret": "whsec_eA=="}},
            "configuration.secret",
        ),
        (
            {"kind": "standard", "configuration": {"publicKey": "whsec_AAAA"}},
            "configuration.publicKey",
        ),
        ({"kind": "scg", "configuration": {"unknown": "x"}}, "configuration.unknown"),
    ],
)
async def test_bad_fields_are_named(
    client: TestClient, admin: dict[str, str], body: dict[str, Any], field: str
) -> None:
    payload = {"name": "n", "kind": "scg", "hubId": "hub-1", **body}
    status, code, message = await error(
        await client.post("/integrations", json=payload, headers=admin)
    )
    assert (status, code) == (400, "invalid_payload")
    assert message.startswith(field), message


async def test_not_json_is_invalid_json(client: TestClient, admin: dict[str, str]) -> None:
    response = await client.post("/integrations", data=b"{", headers=admin)
    assert (await error(response))[:2] == (400, "invalid_json")


async def test_get_patch_delete(client: TestClient, admin: dict[str, str]) -> None:
    created = await create(client, admin, kind="twilio", configuration={"authToken": "one"})
    path = f"/integrations/{created['integrationId']}"
    assert await (await client.get(path, headers=admin)).json() == created

    response = await client.patch(
        path,
        json={"name": "renamed", "statusId": 3002, "configuration": {"authToken": "two"}},
        headers=admin,
    )
    patched = await response.json()
    assert response.status == 200
    assert (patched["name"], patched["statusId"], patched["configuration"]) == (
        "renamed",
        3002,
        {"authToken": "two"},
    )
    assert patched["createdAt"] == created["createdAt"]
    assert await (await client.get(path, headers=admin)).json() == patched

    response = await client.patch(path, json={"statusId": 1}, headers=admin)
    assert (await error(response))[:2] == (400, "invalid_payload")
    response = await client.patch(path, json={"regenerateKeys": True}, headers=admin)
    assert (await error(response))[2].startswith("regenerateKeys")

    assert (await client.delete(path, headers=admin)).status == 204
    for method in (client.get, client.delete):
        assert (await error(await method(path, headers=admin)))[:2] == (404, "not_found")
    response = await client.patch(path, json={"name": "x"}, headers=admin)
    assert (await error(response))[:2] == (404, "not_found")


@pytest.mark.parametrize("kind", ["hubster-system", "scg", "standard"])
async def test_regenerate_keys_issues_new_credentials(
    client: TestClient, admin: dict[str, str], kind: str
) -> None:
    created = await create(client, admin, kind=kind)
    path = f"/integrations/{created['integrationId']}"
    response = await client.patch(path, json={"regenerateKeys": True}, headers=admin)
    regenerated = (await response.json())["configuration"]
    assert set(regenerated) == set(created["configuration"])
    assert all(regenerated[name] != value for name, value in created["configuration"].items())
    assert created["previousCredentialsExpireAt"] is None
    expires = (await (await client.get(path, headers=admin)).json())["previousCredentialsExpireAt"]
    assert expires.endswith("Z") and expires > created["createdAt"]


async def test_configuration_patch_merges(client: TestClient, admin: dict[str, str]) -> None:
    created = await create(client, admin, configuration={"bearerToken": "t"})
    path = f"/integrations/{created['integrationId']}"
    response = await client.patch(
        path, json={"configuration": {"username": "u", "password": "p"}}, headers=admin
    )
    assert (await response.json())["configuration"] == {
        "bearerToken": "t",
        "username": "u",
        "password": "p",
    }
    response = await client.patch(
        path, json={"configuration": {"bearerToken": None}}, headers=admin
    )
    assert (await response.json())["configuration"] == {"username": "u", "password": "p"}


async def test_paging_and_hub_filter(client: TestClient, admin: dict[str, str]) -> None:
    ids = [
        (await create(client, admin, name=f"i{i}", hubId="paged" if i < 5 else "other"))[
            "integrationId"
        ]
        for i in range(7)
    ]
    response = await client.get("/integrations?hubId=paged&pageSize=2&pageNumber=1", headers=admin)
    page = await response.json()
    assert (page["pageNumber"], page["pageSize"], page["total"]) == (1, 2, 5)
    assert [item["integrationId"] for item in page["results"]] == ids[2:4]
    past = await (
        await client.get("/integrations?hubId=paged&pageSize=2&pageNumber=3", headers=admin)
    ).json()
    assert past["results"] == [] and past["total"] == 5
    everything = await (await client.get("/integrations", headers=admin)).json()
    assert everything["total"] == 7 and everything["pageSize"] == 50


@pytest.mark.parametrize("query", ["pageSize=0", "pageSize=101", "pageNumber=-1", "pageSize=ten"])
async def test_paging_bounds(client: TestClient, admin: dict[str, str], query: str) -> None:
    response = await client.get(f"/integrations?{query}", headers=admin)
    assert (await error(response))[:2] == (400, "invalid_payload")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/integrations"),
        ("GET", "/integrations"),
        ("GET", "/integrations/x"),
        ("PATCH", "/integrations/x"),
        ("DELETE", "/integrations/x"),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic abc"])
async def test_admin_key_required(
    client: TestClient, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.request(method, path, json={}, headers=headers)
    assert (await error(response))[:2] == (401, "unauthorized")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"configuration": {"username": "a"}},
            "configuration: give both username and password, or neither",
        ),
        (
            {"kind": "hubster-system", "configuration": {"publicSigningKey": "A" * 32}},
            "configuration: give both publicSigningKey and privateSigningKey, or neither",
        ),
        (
            {"kind": "standard", "configuration": {"secret": "whsec_!!"}},
            "configuration.secret: must be a whsec_ secret (base64 of 24..64 bytes)",
        ),
    ],
)
async def test_configuration_problems_read_plainly(
    client: TestClient, admin: dict[str, str], body: dict[str, Any], message: str
) -> None:
    payload = {"name": "n", "kind": "scg", "hubId": "hub-1", **body}
    response = await client.post("/integrations", json=payload, headers=admin)
    assert (await error(response))[2] == message
