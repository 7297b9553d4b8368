"""Attempts that go wrong in odd ways still conclude: a `Retry-After` that is not a number, an
exception from deep inside sending, a body that stalls after a 2xx status line, a
`Retry-After` shorter than the schedule. Each attempt is counted and recorded, and the
delivery ends on the schedule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import pytest
from aiohttp import web

from tests.delivery.support import Gateway, Received, activity, queue_depth, wait_until


@dataclass
class RawEndpoint:
    url: str = ""
    hits: int = 0


RawServer = Callable[[bytes], Awaitable[RawEndpoint]]


@pytest.fixture
async def raw_server() -> AsyncIterator[RawServer]:
    """A TCP endpoint answering every request with the given bytes, then holding the
    connection open (until the test ends): for answers aiohttp's server would not send."""
    servers: list[asyncio.Server] = []
    done = asyncio.Event()

    async def start(answer: bytes) -> RawEndpoint:
        endpoint = RawEndpoint()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            endpoint.hits += 1
            writer.write(answer)
            await writer.drain()
            await done.wait()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        endpoint.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
        return endpoint

    yield start
    done.set()
    for server in servers:
        server.close()


async def dead_after_every_attempt(gateway: Gateway, subscriber_id: str) -> list[dict[str, str]]:
    await wait_until(lambda: gateway.attempts(subscriber_id, "dead"), message="a dead delivery")
    records = [r for r in await gateway.attempts(subscriber_id) if r["status"] != "pending"]
    assert [r["status"] for r in records] == ["dead", "failed", "failed"]
    assert await queue_depth(gateway.engine) == 0
    return records


async def test_a_retry_after_of_non_ascii_digits_is_ignored_not_fatal(make_gateway, raw_server):
    gateway = await make_gateway()
    endpoint = await raw_server(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: ²\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    subscriber = await gateway.create_subscriber(url=endpoint.url, events=["*"])
    subscriber_id = subscriber["subscriberId"]
    await gateway.store(activity())
    records = await dead_after_every_attempt(gateway, subscriber_id)
    assert {r["responseStatus"] for r in records} == {503}


class ExplodingDns:
    """A resolver with a bug: it raises something no sending code expects."""

    async def __call__(self, host: str, port: int) -> list[str]:
        raise RuntimeError("resolver bug")


async def test_an_unexpected_exception_while_sending_is_a_failed_attempt(make_gateway):
    gateway = await make_gateway(resolver=ExplodingDns())
    subscriber = await gateway.create_subscriber(url="http://sink.test/hook", events=["*"])
    await gateway.store(activity())
    records = await dead_after_every_attempt(gateway, subscriber["subscriberId"])
    assert all(r["error"] == "gateway error: RuntimeError" for r in records)
    metrics = await (await gateway.client.get("/metrics")).text()
    assert 'gateway_deliveries_total{outcome="failed"} 2.0' in metrics
    assert 'gateway_deliveries_total{outcome="dead"} 1.0' in metrics


async def test_retry_after_zero_waits_for_the_schedule(make_gateway, make_sink):
    async def busy(request: web.Request, received: Received) -> web.StreamResponse:
        return web.Response(status=503, headers={"Retry-After": "0"})

    gateway = await make_gateway(retry_schedule=[0, 5, 5])
    sink = await make_sink(busy)
    subscriber_id = (await gateway.create_subscriber(url=sink.url(), events=["*"]))["subscriberId"]
    await gateway.store(activity())
    await wait_until(lambda: gateway.attempts(subscriber_id, "failed"), message="one attempt")
    [failed] = await gateway.attempts(subscriber_id, "failed")
    wait = _seconds(failed["nextAttemptAt"]) - _seconds(failed["at"])
    assert wait >= 5 * 0.8 - 0.001
    assert len(sink.received) == 1


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


async def test_a_2xx_whose_body_stalls_succeeds_once(make_gateway, raw_server):
    gateway = await make_gateway()
    endpoint = await raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    subscriber = await gateway.create_subscriber(url=endpoint.url, events=["*"])
    subscriber_id = subscriber["subscriberId"]
    await gateway.store(activity())
    await wait_until(lambda: gateway.attempts(subscriber_id, "succeeded"), message="success")
    assert [r["status"] for r in await gateway.attempts(subscriber_id)] == ["succeeded"]
    assert endpoint.hits == 1
