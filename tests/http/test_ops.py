"""Liveness, readiness that really checks the engine and the loops, and metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.engine import EngineUnavailable, NewEvent
from gateway.engine.base import EngineStats
from gateway.engine.memory import MemoryEngine
from tests.http.conftest import make_app


class FaultyEngine(MemoryEngine):
    """A real in-memory engine whose boundary fails on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.ping_fails = False
        real_trim = self.events.trim

        async def trim(older_than_ms: int, max_bytes: int) -> int:
            if self.trim_error is not None:
                raise self.trim_error
            return await real_trim(older_than_ms, max_bytes)

        self.trim_error: BaseException | None = None
        self.events.trim = trim  # type: ignore[method-assign]

    async def ping(self) -> None:
        if self.ping_fails:
            raise EngineUnavailable("injected")


async def test_healthz_and_readyz_ok(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(make_app())
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["status"] == "ready"


async def test_readyz_is_503_while_engine_unreachable(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    engine = FaultyEngine()
    client = await aiohttp_client(make_app(engine))
    engine.ping_fails = True
    response = await client.get("/readyz")
    body = await response.json()
    assert response.status == 503
    assert body["error"]["code"] == "unavailable"
    assert "engine is unreachable" in body["problems"]
    engine.ping_fails = False
    assert (await client.get("/readyz")).status == 200


async def test_readyz_is_503_once_a_loop_died(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    engine = FaultyEngine()
    engine.trim_error = RuntimeError("injected bug in the retention loop")
    client = await aiohttp_client(make_app(engine))
    for _ in range(100):
        response = await client.get("/readyz")
        if response.status == 503:
            break
        await asyncio.sleep(0.02)
    body = await response.json()
    assert response.status == 503
    assert "loop retention is not running" in body["problems"]


async def test_loop_survives_engine_unavailable(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    engine = FaultyEngine()
    engine.trim_error = EngineUnavailable("injected outage")
    client = await aiohttp_client(make_app(engine))
    await asyncio.sleep(0.1)
    response = await client.get("/readyz")
    assert response.status == 200


async def test_metrics_count_requests_by_route_and_status(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(make_app())
    await client.get("/healthz")
    await client.get("/nowhere/abc")
    text = await (await client.get("/metrics")).text()
    assert 'gateway_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'gateway_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert (
        'gateway_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}'
        in text
    )
    for name in (
        "gateway_events_stored_total",
        "gateway_duplicates_total",
        "gateway_ws_sessions",
        "gateway_ws_slow_disconnects_total",
        "gateway_delivery_queue_depth",
        "gateway_ingest_to_fanout_seconds",
    ):
        assert name in text


async def test_uncommon_methods_share_one_metric_series(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client = await aiohttp_client(make_app())
    for _ in range(3):
        response = await client.request("TRACE", "/healthz")
        assert response.status == 405
    text = await (await client.get("/metrics")).text()
    assert 'gateway_http_requests_total{method="other",route="unmatched",status="405"} 3.0' in text
    assert 'method="TRACE"' not in text


async def test_engine_gauges_are_refreshed_in_the_background(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    engine = MemoryEngine()
    client = await aiohttp_client(make_app(engine))
    body = b'{"type":"event:x"}'
    new = [NewEvent(f"key-{n}", "hub", None, "event:x", body) for n in range(3)]
    stored = (await engine.events.append(new, 60)).stored
    expected = [
        "gateway_event_log_events 3.0",
        f"gateway_event_log_bytes {float(sum(len(e.payload) for e in stored))}",
        "gateway_delivery_queued_bytes 0.0",
        "gateway_delivery_dead_bytes 0.0",
        "gateway_delivery_oldest_due_seconds 0.0",
        "gateway_delivery_overflowed_total 0.0",
        "gateway_dead_letters_dropped_total 0.0",
    ]
    for _ in range(200):
        text = await (await client.get("/metrics")).text()
        if all(line in text.splitlines() for line in expected):
            break
        await asyncio.sleep(0.02)
    assert [line for line in expected if line not in text.splitlines()] == []


class _ReportingEngine(MemoryEngine):
    """An engine whose own readings the test sets (Redis's come from its connection)."""

    reading = EngineStats()

    def stats(self) -> EngineStats:
        return self.reading


async def _metric_lines(client: Any, expected: list[str]) -> list[str]:
    """The expected lines not yet in `/metrics` after waiting for the refresh."""
    for _ in range(200):
        lines = (await (await client.get("/metrics")).text()).splitlines()
        missing = [line for line in expected if line not in lines]
        if not missing:
            break
        await asyncio.sleep(0.02)
    return missing


async def test_the_engines_errors_are_counted_and_its_reader_lag_shown(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    engine = _ReportingEngine()
    engine.reading = EngineStats(errors=3, reader_lag_seconds=2.5)
    client = await aiohttp_client(make_app(engine))
    expected = ["gateway_redis_errors_total 3.0", "gateway_redis_reader_lag_seconds 2.5"]
    assert await _metric_lines(client, expected) == []
    engine.reading = EngineStats(errors=5, reader_lag_seconds=0.0)
    expected = ["gateway_redis_errors_total 5.0", "gateway_redis_reader_lag_seconds 0.0"]
    assert await _metric_lines(client, expected) == []
