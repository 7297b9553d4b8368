"""Admission: bearer on the upgrade (HTTP 401 when bad) or an auth first frame (4001/4003)."""

from __future__ import annotations

import base64
import os
import time
from typing import Any

import aiohttp
import jwt
import orjson
import pytest
from ws_helpers import (
    AUDIENCE,
    activity,
    agent_token,
    bearer,
    closed_with,
    next_frame,
    publish,
)

from gateway.config import ConfigError
from tests.conftest import run_gateway

UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
}


async def test_ready_frame_over_bearer(make_gateway: Any) -> None:
    gw = await make_gateway(ws_heartbeat_seconds=7)
    token = agent_token("ann", ["hub-b", "hub-a"], ttl=600)
    ws, ready = await gw.session(token)
    assert set(ready) == {
        "type",
        "sessionId",
        "agentId",
        "hubIds",
        "expiresAt",
        "heartbeatSeconds",
        "lastEventId",
    }
    assert ready["lastEventId"] == await gw.engine.events.last_id()
    assert ready["agentId"] == "ann"
    assert ready["hubIds"] == ["hub-a", "hub-b"]
    assert ready["heartbeatSeconds"] == 7
    assert ready["expiresAt"].endswith("Z")
    assert gw.metric("gateway_ws_sessions") == 1
    await ws.close()


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("not-a-jwt", "unauthorized"),
        (agent_token("ann", ["hub-a"], secret="x" * 40), "unauthorized"),
        (agent_token("ann", ["hub-a"], ttl=-120), "expired_token"),
    ],
    ids=["garbage", "wrong-secret", "expired"],
)
async def test_bad_bearer_is_http_401_without_upgrade(
    make_gateway: Any, token: str, code: str
) -> None:
    gw = await make_gateway()
    response = await gw.client.get("/ws", headers={**UPGRADE, **bearer(token)})
    assert response.status == 401
    assert (await response.json())["error"]["code"] == code
    assert response.headers["UC-REST-ERROR"]
    assert "Upgrade" not in response.headers
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await gw.connect(token)
    assert caught.value.status == 401


async def test_auth_first_frame(make_gateway: Any) -> None:
    gw = await make_gateway()
    ws = await gw.connect()
    await ws.send_json({"type": "auth", "token": agent_token("ann", ["hub-a"])})
    ready = await next_frame(ws)
    assert ready["type"] == "ready"
    assert ready["agentId"] == "ann"
    stored = await publish(gw.engine, [activity("hub-a", "c1")])
    assert (await next_frame(ws, "event"))["event"]["id"] == stored[0].id
    await ws.close()


@pytest.mark.parametrize(
    "first",
    [
        orjson.dumps({"type": "auth", "token": "garbage"}),
        orjson.dumps({"type": "auth", "token": agent_token("ann", ["hub-a"], ttl=-120)}),
        orjson.dumps({"type": "auth"}),
        orjson.dumps({"type": "subscribe", "hubIds": ["hub-a"]}),
        orjson.dumps({"type": "pong"}),
        b"not json",
    ],
    ids=["bad-token", "expired", "no-token", "subscribe-first", "pong-first", "not-json"],
)
async def test_bad_or_other_first_frame_closes_4001(make_gateway: Any, first: bytes) -> None:
    gw = await make_gateway()
    ws = await gw.connect()
    await ws.send_str(first.decode())
    assert await closed_with(ws) == 4001
    assert gw.metric("gateway_ws_sessions") == 0


async def test_binary_first_frame_closes_4001(make_gateway: Any) -> None:
    gw = await make_gateway()
    ws = await gw.connect()
    await ws.send_bytes(orjson.dumps({"type": "auth", "token": agent_token("ann", ["hub-a"])}))
    assert await closed_with(ws) == 4001


async def test_silence_closes_4001_after_the_auth_timeout(make_gateway: Any) -> None:
    gw = await make_gateway(ws_auth_timeout_seconds=0.2)
    ws = await gw.connect()
    assert await closed_with(ws) == 4001


async def test_token_granting_no_hub_closes_4003(make_gateway: Any) -> None:
    gw = await make_gateway()
    ws = await gw.connect(agent_token("ann", []))
    error = await next_frame(ws)
    assert error["error"]["code"] == "access_denied"
    assert await closed_with(ws) == 4003
    ws = await gw.connect()
    await ws.send_json({"type": "auth", "token": agent_token("ann", [])})
    assert await closed_with(ws) == 4003


async def test_auth_frame_narrowing_beyond_the_token_is_denied_like_subscribe(
    make_gateway: Any,
) -> None:
    """Asking beyond the token is an `access_denied` frame; the session keeps the token's
    full scope (as a `subscribe` asking for more leaves the session as it was)."""
    gw = await make_gateway()
    token = agent_token("ann", ["hub-a", "hub-b"], conversations=["c1"])
    for narrowing in ({"hubIds": ["hub-a", "hub-z"]}, {"conversationIds": ["c2"]}):
        ws = await gw.connect()
        await ws.send_json({"type": "auth", "token": token, **narrowing})
        ready = await next_frame(ws)
        assert ready["type"] == "ready"
        assert ready["hubIds"] == ["hub-a", "hub-b"]
        assert (await next_frame(ws, "error"))["error"]["code"] == "access_denied"
        stored = await publish(
            gw.engine, [activity("hub-a", "c2"), activity("hub-b", "c1"), activity("hub-a", "c1")]
        )
        assert [(await next_frame(ws, "event"))["event"]["id"] for _ in range(2)] == [
            stored[1].id,
            stored[2].id,
        ]
        await ws.close()


@pytest.mark.parametrize(
    "authorization",
    ["Basic YW5uOnNlY3JldA==", "Bearer ", "Bearer", "Token abc", ""],
    ids=["basic", "bearer-space", "bearer-alone", "other-scheme", "empty"],
)
async def test_unusable_authorization_header_is_http_401_without_upgrade(
    make_gateway: Any, authorization: str
) -> None:
    gw = await make_gateway()
    response = await gw.client.get("/ws", headers={**UPGRADE, "Authorization": authorization})
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"
    assert response.headers["UC-REST-ERROR"]
    assert "Upgrade" not in response.headers


async def test_invalid_utf8_or_oversized_first_frame_closes_4001(make_gateway: Any) -> None:
    gw = await make_gateway()
    ws = await gw.connect()
    await ws.send_frame(b'{"type": "auth", "token": "\xff\xfe"}', aiohttp.WSMsgType.TEXT)
    assert await closed_with(ws) == 4001
    ws = await gw.connect()
    token = agent_token("ann", ["hub-a"])
    await ws.send_str(orjson.dumps({"type": "auth", "token": token, "pad": "x" * 70_000}).decode())
    assert await closed_with(ws) == 4001
    assert gw.metric("gateway_ws_sessions") == 0


@pytest.mark.parametrize("exp", [10**15, 253402300800], ids=["1e15", "year-10000"])
async def test_absurd_exp_is_unauthorized(make_gateway: Any, exp: int) -> None:
    gw = await make_gateway()
    token = agent_token("ann", ["hub-a"], exp=exp)
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await gw.connect(token)
    assert caught.value.status == 401
    ws = await gw.connect()
    await ws.send_json({"type": "auth", "token": token})
    assert await closed_with(ws) == 4001


async def test_auth_frame_narrowing_applies(make_gateway: Any) -> None:
    gw = await make_gateway()
    ws = await gw.connect()
    token = agent_token("ann", ["hub-a", "hub-b"])
    await ws.send_json({"type": "auth", "token": token, "hubIds": ["hub-b"], "events": ["receipt"]})
    ready = await next_frame(ws)
    assert ready["hubIds"] == ["hub-b"]
    stored = await publish(
        gw.engine,
        [
            activity("hub-a", "c1", kind="receipt:delivered"),
            activity("hub-b", "c1"),
            activity("hub-b", "c1", kind="receipt:delivered"),
        ],
    )
    assert (await next_frame(ws, "event"))["event"]["id"] == stored[2].id
    await ws.close()


async def test_malformed_last_event_id(make_gateway: Any) -> None:
    gw = await make_gateway()
    token = agent_token("ann", ["hub-a"])
    response = await gw.client.get(
        "/ws", params={"lastEventId": "yesterday"}, headers={**UPGRADE, **bearer(token)}
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_payload"
    ws = await gw.connect()
    await ws.send_json({"type": "auth", "token": token, "lastEventId": "12-3"})
    error = await next_frame(ws)
    assert error["error"]["code"] == "invalid_payload"
    assert "lastEventId" in error["error"]["message"]
    assert await closed_with(ws) == 4400


async def test_rs256_and_eddsa_tokens_minted_elsewhere(make_gateway: Any) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    for key, alg in ((rsa_key, "RS256"), (ed_key, "EdDSA")):
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        gw = await make_gateway(jwt_algorithms=[alg], jwt_public_key=pem.decode())
        claims = {"sub": "ann", "aud": AUDIENCE, "exp": int(time.time()) + 60, "hubs": ["h"]}
        ws, ready = await gw.session(jwt.encode(claims, key, algorithm=alg))
        assert ready["agentId"] == "ann"
        await ws.close()
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await gw.connect(agent_token("ann", ["h"]))
        assert caught.value.status == 401
        forged = jwt.encode(claims, "x" * 32, algorithm="HS256")
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await gw.connect(forged)


async def test_plain_get_without_upgrade_is_an_error_in_the_contract_shape(
    make_gateway: Any,
) -> None:
    gw = await make_gateway()
    response = await gw.client.get("/ws", headers=bearer(agent_token("ann", ["hub-a"])))
    assert response.status == 400
    assert (await response.json())["error"]["code"]


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"jwt_algorithms": ["none"]}, "unsupported JWT algorithms"),
        ({"jwt_algorithms": ["RS256"], "jwt_public_key": "not a pem"}, "invalid JWT"),
        ({"jwt_algorithms": ["HS256", "RS256"]}, "RS256 needs GATEWAY_JWT_PUBLIC_KEY"),
        ({"jwt_algorithms": ["EdDSA"]}, "EdDSA needs GATEWAY_JWT_PUBLIC_KEY"),
    ],
)
async def test_bad_jwt_configuration_is_a_config_error(
    make_gateway: Any, settings: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        await make_gateway(**settings)


def test_public_key_algorithm_without_a_key_fails_the_start_with_exit_2() -> None:
    result = run_gateway(
        "serve", "--port", "0", env={"GATEWAY_JWT_ALGORITHMS": "HS256,RS256"}, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "RS256 needs GATEWAY_JWT_PUBLIC_KEY" in lines[0]
