"""The admin key check: 401 in the contract's shape for anything but the right key."""

from __future__ import annotations

import asyncio

import pytest

from tests.http.conftest import ADMIN_KEY, make_app


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong", f"Basic {ADMIN_KEY}", f"Bearer {ADMIN_KEY}x"],
)
async def test_anything_but_the_admin_key_is_401(aiohttp_client, authorization) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(make_app())
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.get("/integrations", headers=headers)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"


async def test_the_admin_key_is_accepted(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(make_app())
    response = await client.get("/integrations", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert response.status == 200


async def test_undecodable_authorization_bytes_are_401_not_500(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    server = await aiohttp_server(make_app())
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        b"GET /integrations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n"
        b"Connection: close\r\n\r\n"
    )
    await writer.drain()
    response = await reader.read()
    writer.close()
    assert response.startswith(b"HTTP/1.1 401 "), response[:200]
    assert b'"code":"unauthorized"' in response
