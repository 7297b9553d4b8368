"""`PUT /agent/auth` on a real server: the minted token opens the websocket it names."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import jwt
import pytest
from aiohttp import web

from gateway.config import Settings
from gateway.engine.memory import MemoryEngine
from gateway.http.app import build_app

ADMIN_KEY = "agents-tests-admin-key-0123456789abcdef"
JWT_SECRET = "agents-tests-jwt-secret-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _app(**settings: Any) -> web.Application:
    return build_app(
        Settings(port=0, **settings), MemoryEngine(), admin_key=ADMIN_KEY, jwt_secret=JWT_SECRET
    )


def _epoch(rfc3339: str) -> float:
    assert rfc3339.endswith("Z")
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


async def test_mints_a_token_that_opens_the_websocket(aiohttp_client: Any) -> None:
    client = await aiohttp_client(_app())
    body = {
        "agentId": "ann",
        "name": "Ann",
        "hubIds": ["hub-a", "hub-b"],
        "conversationIds": ["c1"],
    }
    response = await client.put("/agent/auth", json=body, headers=ADMIN)
    assert response.status == 200
    auth = (await response.json())["agentAuth"]
    assert auth["agentId"] == "ann"
    assert auth["hubIds"] == ["hub-a", "hub-b"]
    assert auth["websocketUrl"] == f"ws://{client.host}:{client.port}/ws"
    assert _epoch(auth["expiresAt"]) == pytest.approx(time.time() + 3600, abs=5)

    claims = jwt.decode(auth["jwt"], JWT_SECRET, algorithms=["HS256"], audience="gateway")
    assert jwt.get_unverified_header(auth["jwt"])["alg"] == "HS256"
    assert claims["sub"] == "ann"
    assert claims["hubs"] == ["hub-a", "hub-b"]
    assert claims["conversations"] == ["c1"]
    assert claims["name"] == "Ann"

    ws = await client.session.ws_connect(
        auth["websocketUrl"], headers={"Authorization": f"Bearer {auth['jwt']}"}
    )
    ready = await ws.receive_json(timeout=5)
    assert ready["type"] == "ready"
    assert ready["agentId"] == "ann"
    assert ready["hubIds"] == ["hub-a", "hub-b"]
    assert _epoch(ready["expiresAt"]) == pytest.approx(_epoch(auth["expiresAt"]), abs=1)
    await ws.close()


async def test_ttl_and_public_url(aiohttp_client: Any) -> None:
    client = await aiohttp_client(_app(public_url="https://gw.example.com/"))
    body = {"agentId": "ann", "hubIds": ["hub-a"], "ttlSeconds": 120}
    response = await client.put("/agent/auth", json=body, headers=ADMIN)
    auth = (await response.json())["agentAuth"]
    assert auth["websocketUrl"] == "wss://gw.example.com/ws"
    assert _epoch(auth["expiresAt"]) == pytest.approx(time.time() + 120, abs=5)
    assert "name" not in jwt.decode(
        auth["jwt"], JWT_SECRET, algorithms=["HS256"], audience="gateway"
    )


async def test_needs_the_admin_key(aiohttp_client: Any) -> None:
    client = await aiohttp_client(_app())
    body = {"agentId": "ann", "hubIds": ["hub-a"]}
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {JWT_SECRET}"},
    ):
        response = await client.put("/agent/auth", json=body, headers=headers)
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hubIds": ["hub-a"]}, "agentId"),
        ({"agentId": "", "hubIds": ["hub-a"]}, "agentId"),
        ({"agentId": "ann"}, "hubIds"),
        ({"agentId": "ann", "hubIds": []}, "hubIds"),
        ({"agentId": "ann", "hubIds": "hub-a"}, "hubIds"),
        ({"agentId": "ann", "hubIds": ["hub-a"], "conversationIds": [3]}, "conversationIds"),
        ({"agentId": "ann", "hubIds": ["hub-a"], "conversationIds": []}, "conversationIds"),
        ({"agentId": "ann", "hubIds": ["hub-a"], "ttlSeconds": 0}, "ttlSeconds"),
        ({"agentId": "ann", "hubIds": ["hub-a"], "ttlSeconds": 10**9}, "ttlSeconds"),
        ({"agentId": "ann", "hubIds": ["hub-a"], "hub": "x"}, "hub"),
    ],
)
async def test_invalid_bodies_name_the_field(
    aiohttp_client: Any, body: dict[str, Any], field: str
) -> None:
    client = await aiohttp_client(_app())
    response = await client.put("/agent/auth", json=body, headers=ADMIN)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_payload"
    assert error["message"].startswith(field)
    assert response.headers["UC-REST-ERROR"]


async def test_not_json_is_invalid_json(aiohttp_client: Any) -> None:
    client = await aiohttp_client(_app())
    response = await client.put("/agent/auth", data=b"{nope", headers=ADMIN)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_json"
