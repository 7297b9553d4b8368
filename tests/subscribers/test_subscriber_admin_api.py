"""The subscriber admin API (docs/subscribers.md, docs/openapi.json): shapes, paging,
updates, rotation, attempts, and the 401/404/400 answers."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from tests.delivery.support import AUTH, Gateway, activity, queue_depth, wait_until

HEX32 = re.compile(r"^[0-9A-F]{32}$")
LONGEST_SECRET = "whsec_" + base64.b64encode(bytes(range(64))).decode()
TOO_LONG_SECRET = "whsec_" + base64.b64encode(bytes(range(65))).decode()


async def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    body = await response.json()
    assert response.headers["UC-REST-ERROR"]
    error: dict[str, Any] = body["error"]
    return error


async def test_create_standard_subscriber(make_gateway):
    gateway = await make_gateway()
    created = await gateway.create_subscriber(
        url="https://hooks.example.com/in", events=["message", "receipt:delivered"]
    )
    assert created["subscriberId"]
    assert created["url"] == "https://hooks.example.com/in"
    assert created["events"] == ["message", "receipt:delivered"]
    assert created["hubIds"] is None
    assert created["format"] == "standard"
    assert created["ordered"] is False
    assert created["rateLimitPerSecond"] is None
    assert created["enabled"] is True
    assert created["disabledReason"] is None
    assert created["createdAt"].endswith("Z")
    assert created["secret"].startswith("whsec_")
    assert "privateSigningKey" not in created
    assert await gateway.subscriber(created["subscriberId"]) == created


async def test_create_hubster_subscriber_with_every_option(make_gateway):
    gateway = await make_gateway()
    created = await gateway.create_subscriber(
        url="http://hooks.example.com/hubster",
        events=["*"],
        hubIds=["hub-1", "hub-2"],
        format="hubster",
        ordered=True,
        rateLimitPerSecond=5,
        disableAfterSeconds=60,
        description="CRM mirror",
    )
    assert HEX32.match(created["publicSigningKey"])
    assert HEX32.match(created["privateSigningKey"])
    assert "secret" not in created
    assert created["hubIds"] == ["hub-1", "hub-2"]
    assert (created["format"], created["ordered"]) == ("hubster", True)
    assert created["rateLimitPerSecond"] == 5
    assert created["description"] == "CRM mirror"


async def test_given_credentials_are_kept(make_gateway):
    gateway = await make_gateway()
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    standard = await gateway.create_subscriber(url="http://a.example/", events=["*"], secret=secret)
    assert standard["secret"] == secret
    longest = await gateway.create_subscriber(
        url="http://a.example/", events=["*"], secret=LONGEST_SECRET
    )
    assert longest["secret"] == LONGEST_SECRET
    keys = {"publicSigningKey": "A" * 32, "privateSigningKey": "B" * 32}
    hubster = await gateway.create_subscriber(
        url="http://a.example/", events=["*"], format="hubster", **keys
    )
    assert (hubster["publicSigningKey"], hubster["privateSigningKey"]) == ("A" * 32, "B" * 32)


async def test_list_pages(make_gateway):
    gateway = await make_gateway()
    ids = [
        (await gateway.create_subscriber(url=f"http://h{i}.example/", events=["*"]))["subscriberId"]
        for i in range(3)
    ]
    response = await gateway.client.get("/subscribers?pageSize=2&pageNumber=0", headers=AUTH)
    first = await response.json()
    assert (first["pageNumber"], first["pageSize"], first["total"]) == (0, 2, 3)
    response = await gateway.client.get("/subscribers?pageSize=2&pageNumber=1", headers=AUTH)
    second = await response.json()
    assert [s["subscriberId"] for s in first["results"] + second["results"]] == ids
    response = await gateway.client.get("/subscribers?pageNumber=5", headers=AUTH)
    assert (await response.json())["results"] == []
    for query in ["pageSize=0", "pageSize=101", "pageNumber=-1", "pageSize=x"]:
        error = await error_of(await gateway.client.get(f"/subscribers?{query}", headers=AUTH), 400)
        assert error["code"] == "invalid_payload"


async def test_patch_changes_only_what_is_given(make_gateway):
    gateway = await make_gateway()
    created = await gateway.create_subscriber(
        url="http://a.example/", events=["*"], hubIds=["hub-1"], description="x"
    )
    path = f"/subscribers/{created['subscriberId']}"
    response = await gateway.client.patch(
        path,
        json={"events": ["receipt"], "hubIds": None, "ordered": True, "rateLimitPerSecond": 3},
        headers=AUTH,
    )
    assert response.status == 200
    updated = await response.json()
    assert updated["events"] == ["receipt"]
    assert updated["hubIds"] is None
    assert updated["ordered"] is True
    assert updated["rateLimitPerSecond"] == 3
    assert updated["description"] == "x"
    assert updated["secret"] == created["secret"]
    assert await gateway.subscriber(created["subscriberId"]) == updated


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["bogus"]}, "events"),
        ({"events": []}, "events"),
        ({"url": "ftp://x/"}, "url"),
        ({"format": "hubster"}, "format"),
        ({"ordered": "yes"}, "ordered"),
        ({"rateLimitPerSecond": 0}, "rateLimitPerSecond"),
        ({"hubIds": []}, "hubIds"),
        ({"url": None}, "url"),
        ({"events": None}, "events"),
        ({"rateLimitPerSecond": "inf"}, "rateLimitPerSecond"),
        ({"disableAfterSeconds": "NaN"}, "disableAfterSeconds"),
        ({"disableAfterSeconds": 1e12}, "disableAfterSeconds"),
    ],
)
async def test_bad_patch_names_the_field(make_gateway, body, field):
    gateway = await make_gateway()
    created = await gateway.create_subscriber(url="http://a.example/", events=["*"])
    response = await gateway.client.patch(
        f"/subscribers/{created['subscriberId']}", json=body, headers=AUTH
    )
    error = await error_of(response, 400)
    assert error["code"] == "invalid_payload"
    assert error["message"].startswith(field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["*"]}, "url"),
        ({"url": "http://a.example/"}, "events"),
        ({"url": "http://a.example/", "events": []}, "events"),
        ({"url": "http://a.example/", "events": ["message:"]}, "events.0"),
        ({"url": "http://a.example/", "events": ["*"], "format": "xml"}, "format"),
        ({"url": "http://a.example/", "events": ["*"], "disableAfterSeconds": -1}, "disable"),
        ({"url": "http://a.example/", "events": ["*"], "colour": "red"}, "colour"),
        ({"url": "http://a.example/", "events": ["*"], "secret": "nope"}, "secret"),
        ({"url": "http://user:pw@a.example/", "events": ["*"]}, "url"),
        ({"url": "http://a.example/", "events": ["*"], "privateSigningKey": "a"}, "private"),
        ({"url": "http://a.example/", "events": ["*"], "rateLimitPerSecond": "inf"}, "rate"),
        ({"url": "http://a.example/", "events": ["*"], "rateLimitPerSecond": "NaN"}, "rate"),
        ({"url": "http://a.example/", "events": ["*"], "rateLimitPerSecond": 1e300}, "rate"),
        ({"url": "http://a.example/", "events": ["*"], "disableAfterSeconds": "inf"}, "disable"),
        ({"url": "http://a.example/", "events": ["*"], "secret": "whsec_AAAA"}, "secret"),
        ({"url": "http://a.example/", "events": ["*"], "secret": TOO_LONG_SECRET}, "secret"),
    ],
)
async def test_bad_create_names_the_field(make_gateway, body, field):
    gateway = await make_gateway()
    response = await gateway.client.post("/subscribers", json=body, headers=AUTH)
    error = await error_of(response, 400)
    assert error["code"] == "invalid_payload"
    assert error["message"].startswith(field)


async def test_unparsable_body_is_invalid_json(make_gateway):
    gateway = await make_gateway()
    response = await gateway.client.post("/subscribers", data=b"{nope", headers=AUTH)
    assert (await error_of(response, 400))["code"] == "invalid_json"


ROUTES = [
    ("GET", "/subscribers"),
    ("POST", "/subscribers"),
    ("GET", "/subscribers/{id}"),
    ("PATCH", "/subscribers/{id}"),
    ("DELETE", "/subscribers/{id}"),
    ("POST", "/subscribers/{id}/rotate"),
    ("POST", "/subscribers/{id}/enable"),
    ("GET", "/subscribers/{id}/deliveries"),
    ("POST", "/subscribers/{id}/replay"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", "Basic Zm9vOmJhcg=="])
async def test_every_route_needs_the_admin_key(make_gateway, method, path, authorization):
    gateway = await make_gateway()
    created = await gateway.create_subscriber(url="http://a.example/", events=["*"])
    headers = {"Authorization": authorization} if authorization else {}
    response = await gateway.client.request(
        method, path.format(id=created["subscriberId"]), json={}, headers=headers
    )
    assert (await error_of(response, 401))["code"] == "unauthorized"
    assert await gateway.subscriber(created["subscriberId"]) == created


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if "{id}" in r[1]])
async def test_unknown_subscriber_is_404(make_gateway, method, path):
    gateway = await make_gateway()
    body = {"since": "2026-01-01T00:00:00Z"} if path.endswith("replay") else {"events": ["*"]}
    response = await gateway.client.request(
        method, path.format(id="no-such-subscriber"), json=body, headers=AUTH
    )
    assert (await error_of(response, 404))["code"] == "not_found"


async def test_delete_forgets_the_subscriber_and_its_queue(make_gateway, make_sink):
    gateway = await make_gateway(delivery_timeout_seconds=30)
    sink = await make_sink()
    sink.respond = sink.hang
    created = await gateway.create_subscriber(url=sink.url(), events=["*"])
    await gateway.store(*[activity() for _ in range(10)])
    await wait_until(lambda: len(sink.received) == 8, message="the first eight in flight")
    assert await queue_depth(gateway.engine) == 10

    path = f"/subscribers/{created['subscriberId']}"
    response = await gateway.client.delete(path, headers=AUTH)
    assert response.status == 204
    assert await queue_depth(gateway.engine) == 0
    assert await gateway.engine.deliveries.attempts(created["subscriberId"]) == []
    assert (await gateway.client.get(path, headers=AUTH)).status == 404
    assert (await gateway.client.delete(path, headers=AUTH)).status == 404


async def test_enable_an_enabled_subscriber_is_harmless(make_gateway):
    gateway = await make_gateway()
    created = await gateway.create_subscriber(url="http://a.example/", events=["*"])
    path = f"/subscribers/{created['subscriberId']}/enable"
    response = await gateway.client.post(path, headers=AUTH)
    assert response.status == 200
    assert await response.json() == created


async def test_deliveries_status_filter_and_paging(make_gateway, make_sink):
    gateway = await make_gateway(retry_schedule=[0])
    sink = await make_sink()
    created = await gateway.create_subscriber(url=sink.url(), events=["message"])
    subscriber_id = created["subscriberId"]
    await gateway.store(*[activity() for _ in range(3)])
    await wait_until(lambda: len(sink.received) == 3, message="three deliveries")
    await wait_until(lambda: _count(gateway, subscriber_id, "succeeded", 3), message="records")

    assert await gateway.attempts(subscriber_id, "dead") == []
    path = f"/subscribers/{subscriber_id}/deliveries"
    response = await gateway.client.get(f"{path}?pageSize=2&pageNumber=1", headers=AUTH)
    page = await response.json()
    assert (page["total"], len(page["results"])) == (3, 1)
    error = await error_of(await gateway.client.get(f"{path}?status=done", headers=AUTH), 400)
    assert error["code"] == "invalid_payload"
    assert "status" in error["message"]


async def _count(gateway: Gateway, subscriber_id: str, status: str, expected: int) -> bool:
    return len(await gateway.attempts(subscriber_id, status)) == expected


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"since": "2026-01-01T00:00:00Z", "afterEventId": "1763899200123-000000"},
        {"afterEventId": "not-an-id"},
        {"since": "yesterday"},
        {"since": "2026-01-01T00:00:00"},
        {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"since": "2026-01-01T00:00:00Z", "extra": 1},
        {"since": 12345},
        {"since": "2026-01-01T00:00:00Z", "until": 1e10},
    ],
)
async def test_bad_replay_requests(make_gateway, body):
    gateway = await make_gateway()
    created = await gateway.create_subscriber(url="http://a.example/", events=["*"])
    response = await gateway.client.post(
        f"/subscribers/{created['subscriberId']}/replay", json=body, headers=AUTH
    )
    assert (await error_of(response, 400))["code"] == "invalid_payload"
