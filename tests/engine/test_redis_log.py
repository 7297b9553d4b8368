"""What the conformance suite cannot see of the Redis engine's event log and scripts: the id
mapping onto stream ids, dedup buckets expiring in Redis, atomicity between separate
connections, one round trip per ingest (with its WAIT for replicas when asked), and one
blocking reader per process."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from pathlib import Path

import orjson
import pytest
import redis

import gateway.engine.redis
from gateway.engine.ids import MAX_SEQ, SCRIPT_ID_FORMAT, event_id_at, event_id_ms, is_event_id
from gateway.engine.presence import PresenceSession
from gateway.engine.redis import RedisEngine, RedisOptions, open_redis_engine
from gateway.engine.redis.events import ReplicasBehind, bucket_width_ms, dedup_digest
from tests.redis_support import RedisServer, commands_sent, new_event


@pytest.fixture
def raw(redis_server: RedisServer) -> redis.Redis:
    return redis_server.client()


def stream_ids(raw: redis.Redis, redis_engine: RedisEngine) -> list[str]:
    return [entry_id.decode() for entry_id, _ in raw.xrange(redis_engine.keys.events)]


async def test_gateway_ids_are_the_stream_ids_at_fixed_width(
    redis_engine: RedisEngine, raw: redis.Redis
) -> None:
    ahead_ms = int(time.time() * 1000) + 60_000  # the log's last id is ahead of the clock
    raw.hset(redis_engine.keys.log_meta, mapping={"last_ms": ahead_ms, "last_seq": 8})
    stored = (await redis_engine.events.append([new_event("a"), new_event("b")], 60)).stored
    assert [event.id for event in stored] == [event_id_at(ahead_ms, 9), event_id_at(ahead_ms, 10)]
    assert stream_ids(raw, redis_engine) == [f"{ahead_ms}-9", f"{ahead_ms}-10"]
    assert stored[0].id < stored[1].id  # as text, where "...-10" < "...-9" would not be
    assert [e.id for e in await redis_engine.events.read_after(stored[0].id, 10)] == [stored[1].id]


async def test_past_max_seq_ids_move_to_the_next_millisecond(
    redis_engine: RedisEngine, raw: redis.Redis
) -> None:
    ahead_ms = int(time.time() * 1000) + 60_000
    raw.hset(redis_engine.keys.log_meta, mapping={"last_ms": ahead_ms, "last_seq": MAX_SEQ - 1})
    stored = (await redis_engine.events.append([new_event(f"k{i}") for i in range(3)], 60)).stored
    expected = [event_id_at(ahead_ms, MAX_SEQ), event_id_at(ahead_ms + 1, 0)]
    expected.append(event_id_at(ahead_ms + 1, 1))
    assert [event.id for event in stored] == expected
    next_ms = ahead_ms + 1
    assert stream_ids(raw, redis_engine) == [
        f"{ahead_ms}-{MAX_SEQ}",
        f"{next_ms}-0",
        f"{next_ms}-1",
    ]
    floor = await redis_engine.events.history_floor()
    assert [e.id for e in await redis_engine.events.read_after(floor, 10)] == expected
    assert await redis_engine.events.last_id() == expected[-1]


def test_the_scripts_take_the_id_format_from_the_ids_module() -> None:
    """`gateway.engine.ids` owns the id format: the scripts get it (and `MAX_SEQ`) as
    arguments, and the Lua form of the format writes what `event_id_at` writes."""
    for ms, seq in [(0, 0), (1, 7), (1763899200000, MAX_SEQ), (9999999999999, 10)]:
        assert SCRIPT_ID_FORMAT % (ms, seq) == event_id_at(ms, seq)
    lua = Path(gateway.engine.redis.__file__).parent / "lua"
    for script in lua.glob("*.lua"):
        source = script.read_text()
        assert str(MAX_SEQ) not in source, script.name
        assert not re.search(r"%0\d+(\.0f|d)-", source), f"{script.name} writes the id format"


async def test_the_floor_a_log_that_lost_its_data_writes_is_a_gateway_id(
    redis_engine: RedisEngine, raw: redis.Redis
) -> None:
    raw.hdel(redis_engine.keys.log_meta, "floor")  # as after a flush: the script writes one
    before_ms = int(time.time() * 1000)
    await redis_engine.events.append([new_event("first")], 60)
    floor = await redis_engine.events.history_floor()
    assert is_event_id(floor)
    assert floor.endswith(f"-{MAX_SEQ}")
    assert before_ms - 1 <= event_id_ms(floor) <= int(time.time() * 1000)


async def test_dedup_buckets_expire_whole_in_redis(
    redis_engine: RedisEngine, raw: redis.Redis
) -> None:
    ttl = 0.4
    await redis_engine.events.append([new_event("short")], ttl)
    buckets = [name.decode() for name in raw.zrange(redis_engine.keys.dedup_index, 0, -1)]
    assert len(buckets) == 1
    width_ms = bucket_width_ms(int(ttl * 1000))
    [shard] = raw.keys(buckets[0] + ":*")
    assert shard.decode() == f"{buckets[0]}:{dedup_digest('short')[0]:02x}"
    assert 0 < raw.pttl(shard) <= ttl * 1000 + width_ms
    assert raw.hlen(shard) == 1
    assert len(raw.hkeys(shard)[0]) == 16  # a digest, whatever the key's length

    await redis_engine.events.append([new_event("long")], 60)  # another window, another bucket
    assert await redis_engine.events.seen(["short", "long"]) == [True, True]
    await asyncio.sleep(ttl + width_ms / 1000 + 0.05)
    assert raw.exists(shard) == 0
    assert await redis_engine.events.seen(["short", "long"]) == [False, True]
    await redis_engine.events.trim(0, 1 << 40)
    assert buckets[0].encode() not in raw.zrange(redis_engine.keys.dedup_index, 0, -1)


async def test_a_dedup_bucket_is_spread_over_hashes_that_each_expire_whole(
    redis_engine: RedisEngine, raw: redis.Redis
) -> None:
    """One hash per bucket would hold every key of hours of webhooks and free them all in
    one synchronous step when it expires (half a second at 1.7M keys, past the command
    timeout at ten times that): a bucket's keys spread over 256 hashes by digest byte,
    each with the bucket's expiry, and every key is still found."""
    keys = [f"spread-{n}" for n in range(2000)]
    for start in range(0, len(keys), 500):
        await redis_engine.events.append([new_event(key) for key in keys[start : start + 500]], 60)
    [bucket] = [name.decode() for name in raw.zrange(redis_engine.keys.dedup_index, 0, -1)]
    shards = raw.keys(bucket + ":*")
    assert len(shards) == len({dedup_digest(key)[0] for key in keys}) > 200
    assert sum(raw.hlen(shard) for shard in shards) == len(keys)
    assert max(raw.hlen(shard) for shard in shards) < 40
    expiries = {raw.pexpiretime(shard) for shard in shards}
    assert len(expiries) == 1 and expiries.pop() > 0
    assert await redis_engine.events.seen(keys[::97]) == [True] * len(keys[::97])
    assert (await redis_engine.events.append([new_event(keys[5])], 60)).duplicates == 1


async def test_a_dedup_bucket_of_the_earlier_one_hash_layout_is_still_looked_in(
    redis_engine: RedisEngine, raw: redis.Redis
) -> None:
    """Keys written by a process of the previous layout (one hash per bucket, its index
    member the hash's own name) stay duplicates through a rolling upgrade."""
    old_bucket = redis_engine.keys.dedup_bucket_prefix + "1024:1"
    raw.hset(old_bucket, dedup_digest("from-before"), "")
    raw.zadd(redis_engine.keys.dedup_index, {old_bucket: int(time.time() * 1000) + 60_000})
    assert await redis_engine.events.seen(["from-before", "new"]) == [True, False]
    assert (await redis_engine.events.append([new_event("from-before")], 60)).duplicates == 1


async def test_appends_from_separate_connections_store_each_key_once(
    redis_options: RedisOptions, raw: redis.Redis
) -> None:
    engines = [await open_redis_engine(redis_options) for _ in range(3)]
    try:
        batches = [
            engines[n % 3].events.append(
                [new_event(f"k{n % 40}"), new_event(f"k{(n + 7) % 40}")], 60
            )
            for n in range(300)
        ]
        results = await asyncio.gather(*batches)
    finally:
        for redis_engine in engines:
            await redis_engine.close()
    stored = [event for result in results for event in result.stored]
    keys = sorted(orjson.loads(event.payload)["key"] for event in stored)
    assert keys == sorted(f"k{n}" for n in range(40))
    assert sum(result.duplicates for result in results) == 600 - 40
    ids = [entry_id.decode() for entry_id, _ in raw.xrange(engines[0].keys.events)]
    assert len(ids) == 40 == len(set(ids))


async def test_claims_from_separate_connections_never_share_a_delivery(
    redis_options: RedisOptions,
) -> None:
    from tests.engine.queue_kit import delivery, enqueue

    engines = [await open_redis_engine(redis_options) for _ in range(4)]
    try:
        await enqueue(engines[0], [delivery(n) for n in range(200)])
        rounds = await asyncio.gather(
            *(
                redis_engine.deliveries.claim("s1", 1.0, 3, 30.0, max_in_flight=1000)
                for redis_engine in engines * 30
            )
        )
    finally:
        for redis_engine in engines:
            await redis_engine.close()
    claimed = [item.id for got in rounds for item in got]
    assert len(claimed) == len(set(claimed)) == 200


def writes_sent(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every write the engine's connections send (the blocking reader's `XREAD`s aside)."""
    return commands_sent(monkeypatch, lambda packed: b"XREAD" not in packed)


async def test_an_append_is_one_round_trip(
    redis_engine: RedisEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted at the socket: every write the engine's connections send (the blocking
    reader's own `XREAD`s aside)."""
    await redis_engine.events.append([new_event("warm")], 60)  # scripts loaded, connection made
    sent = writes_sent(monkeypatch)
    await redis_engine.events.append([new_event("a"), new_event("b"), new_event("c")], 60)
    assert len(sent) == 1
    assert b"EVALSHA" in sent[0]


async def test_with_wait_replicas_an_append_and_its_wait_are_one_round_trip(
    redis_options: RedisOptions,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With no replica to wait for, the append is answered unavailable (`ReplicasBehind`)
    though stored; its retry is a duplicate and still waits (a 202 only once replicas
    have the first copy); the append and its `WAIT` go out in one write. Replicas behind
    are counted as errors but never logged as Redis going away."""
    options = dataclasses.replace(redis_options, wait_replicas=1, wait_timeout_seconds=0.1)
    redis_engine = await open_redis_engine(options)
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.redis"):
            with pytest.raises(ReplicasBehind) as behind:
                await redis_engine.events.append([new_event("w")], 60)
            await redis_engine.events.last_id()
        assert (
            behind.value.detail
            == "redis: stored, but 0 of 1 replicas acknowledged it within 100 ms"
        )
        assert [r.getMessage() for r in caplog.records if r.name == "gateway.redis"] == []
        assert redis_engine.health.errors == 1 and redis_engine.health.down_since is None
        assert [e.id for e in await redis_engine.events.read_after("0", 10)] != []
        sent = writes_sent(monkeypatch)
        with pytest.raises(ReplicasBehind):
            await redis_engine.events.append([new_event("w")], 60)
        assert len(sent) == 1
        assert b"EVALSHA" in sent[0] and b"WAIT" in sent[0]
        assert len(await redis_engine.events.read_after("0", 10)) == 1

        await redis_engine.link.redis.script_flush()  # as after a restart: loaded again, then run
        with pytest.raises(ReplicasBehind):
            await redis_engine.events.append([new_event("after a flush")], 60)
        assert len(await redis_engine.events.read_after("0", 10)) == 2
        # Never answered as seen: a redelivery goes on to `append`, which waits.
        assert await redis_engine.events.seen(["w"]) == [False]
    finally:
        await redis_engine.close()


async def test_one_blocking_reader_serves_every_waiter_of_a_process(
    redis_engine: RedisEngine, raw: redis.Redis
) -> None:
    cursor = await redis_engine.events.last_id()
    waiters = [
        asyncio.create_task(redis_engine.events.wait_after(cursor, 10, 5)) for _ in range(20)
    ]
    feeds = [asyncio.create_task(redis_engine.presence.changes_after(None, 5)) for _ in range(5)]
    await asyncio.sleep(0.3)
    readers = [c for c in raw.client_list() if c["cmd"] == "xread" and c["name"] == "gateway"]
    assert len(readers) == 1
    stored = (await redis_engine.events.append([new_event("k")], 60)).stored
    await redis_engine.presence.join(["h1"], PresenceSession("s1", "i1", "ann", None), "busy", 1)
    for waiter in waiters:
        assert [event.id for event in await asyncio.wait_for(waiter, 2)] == [stored[0].id]
    for feed in feeds:
        assert (await asyncio.wait_for(feed, 2)).hub_ids == ["h1"]


async def test_a_log_whose_data_was_lost_resumes_from_a_floor_below_its_new_events(
    redis_engine: RedisEngine, raw: redis.Redis
) -> None:
    before = (await redis_engine.events.append([new_event("lost")], 60)).stored
    for key in raw.scan_iter(match="{" + redis_engine.keys.prefix + ":log}*"):
        raw.delete(key)  # what a Redis restarted without persistence holds: nothing
    await asyncio.sleep(0.01)
    after = (await redis_engine.events.append([new_event("new")], 60)).stored
    floor = await redis_engine.events.history_floor()
    assert event_id_at(int(time.time() * 1000) - 60_000) < floor < after[0].id
    assert before[0].id < floor  # a client holding it is told its resume is incomplete
    assert [e.id for e in await redis_engine.events.read_after(floor, 10)] == [after[0].id]
