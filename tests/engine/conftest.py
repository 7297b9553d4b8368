"""The engines the conformance suite runs against, one fixture parameter each.

`make_engine()` returns an engine; called again in the same test, it returns another
engine over the same data, as a second process sharing the backing store sees it (its own
`instance_id`). `engine` is the first one. Queue limits are fixed when the data is made:
pass `limits` to the first call.

Concurrency tests take `make_racing_engine` instead: the same engines plus a deliberately
non-atomic one (`non_atomic.py`), on which each of them is expected to fail (strict xfail):
a concurrency test that passes on an engine splitting its checks from its writes proves
nothing.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import pytest

from gateway.engine.base import Engine
from gateway.engine.deliveries import QueueLimits
from gateway.engine.memory import MemoryEngine
from gateway.engine.redis import RedisEngine, RedisOptions, open_redis_engine
from tests.engine.non_atomic import NonAtomicEngine

ENGINES = ["memory", "redis", "redis-cluster"]
"""Every real engine. A new engine adds its name here and its branch in `_open`; every
conformance test then runs on it unchanged."""

NON_ATOMIC = pytest.param(
    "non-atomic",
    marks=pytest.mark.xfail(
        strict=True, reason="an engine that yields between read and write must fail this"
    ),
)

EngineFactory = Callable[..., Awaitable[Engine]]


def _sharing(first: Engine) -> Engine:
    """Another process's view of an in-process engine: the same stores, its own id. (An
    engine over a server connects a second client to the same server and key prefix.)"""
    other = copy.copy(first)
    other.instance_id = uuid.uuid4().hex
    return other


@asynccontextmanager
async def _open(
    kind: str, limits: QueueLimits, first: Engine | None, redis: RedisOptions | None
) -> AsyncIterator[Engine]:
    engine: Engine
    if kind.startswith("redis"):
        assert redis is not None
        if isinstance(first, RedisEngine):
            limits = first.limits
        engine = await open_redis_engine(redis, limits=limits)
    elif kind == "memory":
        engine = MemoryEngine(limits=limits) if first is None else _sharing(first)
    elif kind == "non-atomic":
        engine = NonAtomicEngine(limits=limits) if first is None else _sharing(first)
    else:
        raise ValueError(f"no such engine: {kind}")
    try:
        yield engine
    finally:
        await engine.close()


@asynccontextmanager
async def _factory(kind: str, request: pytest.FixtureRequest) -> AsyncIterator[EngineFactory]:
    """`redis` engines share the session's redis-server (`redis-cluster`: its Redis Cluster of
    three masters) under a key prefix of the test's."""
    fixtures = {"redis": "redis_options", "redis-cluster": "redis_cluster_options"}
    redis = request.getfixturevalue(fixtures[kind]) if kind in fixtures else None
    async with AsyncExitStack() as stack:
        engines: list[Engine] = []

        async def make(limits: QueueLimits | None = None) -> Engine:
            first = engines[0] if engines else None
            engine = await stack.enter_async_context(
                _open(kind, limits or QueueLimits(), first, redis)
            )
            engines.append(engine)
            return engine

        yield make


@pytest.fixture(params=ENGINES)
async def make_engine(request: pytest.FixtureRequest) -> AsyncIterator[EngineFactory]:
    async with _factory(request.param, request) as make:
        yield make


@pytest.fixture
async def engine(make_engine: EngineFactory) -> Engine:
    return await make_engine()


@pytest.fixture
async def redis_engine(redis_options: RedisOptions) -> AsyncIterator[RedisEngine]:
    """A Redis engine alone, for the tests of what only the Redis engine does (its scripts,
    its batching, its stream reader)."""
    engine = await open_redis_engine(redis_options)
    yield engine
    await engine.close()


@pytest.fixture(params=[*ENGINES, NON_ATOMIC])
async def make_racing_engine(request: pytest.FixtureRequest) -> AsyncIterator[EngineFactory]:
    async with _factory(request.param, request) as make:
        yield make
