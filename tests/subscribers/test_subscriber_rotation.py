"""`POST /subscribers/{id}/rotate`: a bare request rotates with the default grace, a
`{"graceSeconds": N}` body with its own, and anything else is 400 naming the field. What the
deliveries then carry is in tests/delivery/test_delivery_formats.py."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from tests.delivery.support import AUTH


def seconds_from_now(text: str) -> float:
    return datetime.fromisoformat(text).timestamp() - time.time()


async def rotate(gateway: Any, subscriber_id: str, **request: Any) -> Any:
    return await gateway.client.post(
        f"/subscribers/{subscriber_id}/rotate", headers=AUTH, **request
    )


async def test_a_bare_rotate_uses_the_default_grace(make_gateway: Any) -> None:
    gateway = await make_gateway(rotation_grace_seconds=3600)
    created = await gateway.create_subscriber(url="http://a.example/", events=["*"])
    assert created["previousSecretExpiresAt"] is None
    for request in ({}, {"data": b""}, {"json": {}}):
        response = await rotate(gateway, created["subscriberId"], **request)
        assert response.status == 200, await response.text()
        rotated = await response.json()
        assert 3590 < seconds_from_now(rotated["previousSecretExpiresAt"]) <= 3600


async def test_rotate_takes_its_own_grace(make_gateway: Any) -> None:
    gateway = await make_gateway(rotation_grace_seconds=3600)
    created = await gateway.create_subscriber(url="http://a.example/", events=["*"])
    response = await rotate(gateway, created["subscriberId"], json={"graceSeconds": 60})
    rotated = await response.json()
    assert rotated["secret"] != created["secret"]
    assert 50 < seconds_from_now(rotated["previousSecretExpiresAt"]) <= 60


@pytest.mark.parametrize(
    ("request_body", "problem"),
    [
        ({"json": {"grace": 60}}, "grace"),
        ({"json": [60]}, "The body must be a JSON object."),
        ({"data": b"{"}, ""),
    ],
)
async def test_rotate_refuses_another_body(
    make_gateway: Any, request_body: dict[str, Any], problem: str
) -> None:
    gateway = await make_gateway()
    created = await gateway.create_subscriber(url="http://a.example/", events=["*"])
    response = await rotate(gateway, created["subscriberId"], **request_body)
    assert response.status == 400
    assert (await response.json())["error"]["message"].startswith(problem)
    assert (await gateway.subscriber(created["subscriberId"]))["secret"] == created["secret"]
