"""The event log on one Redis Stream, in global id order.

Gateway id `<ms>-<seq>` (`gateway.engine.ids`) is stream id `ms-seq` read as integers, one
to one: `log_append.lua` picks each id from Redis `TIME` and the last id it gave (never
backwards; past `MAX_SEQ` on to the next millisecond) and writes the events and their dedup
keys in the same script. Dedup keys are 16-byte digests in time-bucketed hashes that expire
whole (Redis 7.0 has no per-field expiry), each bucket split in 256 hashes by the digest's
first byte so that none is large to free: a bucket is 1/4 to 1/8 of the window wide, so a
key lives its window and at most a quarter more, and `seen` looks in the 5 to 9 buckets
alive. An index of live buckets lets processes with different windows find each other's
keys.

With `GATEWAY_REDIS_WAIT_REPLICAS` above 0, each append is followed on its connection by a
`WAIT` for that many replicas, and answered only once they have it (`ReplicasBehind`
otherwise).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

from gateway.engine.events import AppendResult, LogSize, NewEvent, StoredEvent, with_id
from gateway.engine.ids import MAX_SEQ, SCRIPT_ID_FORMAT, event_id_at
from gateway.engine.redis.batching import Batcher
from gateway.engine.redis.connection import (
    Link,
    NotAnOutage,
    ScriptArg,
    guarded,
    guarded_local,
    text,
)
from gateway.engine.redis.reader import (
    BlockingReader,
    event_from_entry,
    next_wake,
    parse_stream_id,
)

EMPTY_FLOOR = event_id_at(0)
APPEND_BATCH_EVENTS = 256
"""At most this many events in one run of the append script (unless one webhook has more):
enough to take every webhook of a busy turn of the loop, short enough for the script not
to hold Redis up."""

SEEN_BATCH_DIGESTS = 256
"""At most this many dedup digests looked up in one run of the lookup script, likewise."""


def dedup_digest(key: str) -> bytes:
    """What a dedup key is stored as: 16 bytes, whatever the key's length."""
    return hashlib.blake2b(key.encode(), digest_size=16).digest()


def bucket_width_ms(ttl_ms: int) -> int:
    """The largest power of two of milliseconds at most a quarter of the window."""
    return 1 << max(0, (max(1, ttl_ms // 4)).bit_length() - 1)


def stream_id(event_id: str) -> str:
    """Gateway id to stream id: `1700000000000-000007` -> `1700000000000-7`."""
    ms, seq = parse_stream_id(event_id)
    return f"{ms}-{seq}"


class ReplicasBehind(NotAnOutage):
    """The append ran, but fewer replicas than `GATEWAY_REDIS_WAIT_REPLICAS` acknowledged it
    in time: the events are stored on the primary and may survive, or may be lost with it
    in a failover. Answered 503 like an outage: the provider retries, and dedup answers
    the retry (after waiting for the replicas again). Not logged as one: replica lag that
    comes and goes would log a pair of lines each time."""


class RedisEventLog:
    def __init__(
        self, link: Link, reader: BlockingReader, wait_replicas: int = 0, wait_ms: int = 1000
    ) -> None:
        self.link = link
        self._reader = reader
        self._wait_replicas = wait_replicas
        self._wait_ms = wait_ms
        keys = link.keys
        self._log_keys = [keys.events, keys.log_meta, keys.dedup_index]
        self._append = link.scripts.register("log_common", "log_append")
        self._appends: dict[int, Batcher[NewEvent, bytes]] = {}
        self._seen = link.scripts.register("log_common", "log_seen")
        self._lookups: Batcher[bytes, int] = Batcher(self._seen_batch, SEEN_BATCH_DIGESTS)
        self._trim = link.scripts.register("log_trim")

    @guarded
    async def append(self, events: Sequence[NewEvent], dedup_ttl_seconds: float) -> AppendResult:
        """The events go out with every other append of this turn of the loop, in one
        script (`batching.py`): one atomic step for all of them, each webhook's events
        stored with their dedup keys or not at all, as alone."""
        if not events:
            return AppendResult(stored=[], duplicates=0)
        ttl_ms = max(1, int(dedup_ttl_seconds * 1000))
        appends = self._appends.get(ttl_ms)
        if appends is None:
            appends = self._appends[ttl_ms] = Batcher(
                functools.partial(self._append_batch, ttl_ms), APPEND_BATCH_EVENTS
            )
        ids = await appends.call(events)
        stored = []
        for event, raw in zip(events, ids, strict=True):
            if not raw:
                continue
            ms, _, seq = raw.partition(b"-")
            event_id = event_id_at(int(ms), int(seq))
            payload = with_id(event_id, event.body)
            stored.append(
                StoredEvent(event_id, event.hub_id, event.conversation_id, event.type, payload)
            )
        return AppendResult(stored=stored, duplicates=len(events) - len(stored))

    async def _append_batch(self, ttl_ms: int, events: list[NewEvent]) -> list[bytes]:
        """One run of `log_append.lua` (and its `WAIT`) for a batch; a stream id per event,
        empty for a duplicate."""
        args: list[ScriptArg] = [
            MAX_SEQ,
            SCRIPT_ID_FORMAT,
            ttl_ms,
            bucket_width_ms(ttl_ms),
            self.link.keys.dedup_bucket_prefix,
            1 if self._wait_replicas else 0,
        ]
        for event in events:
            conversation = "" if event.conversation_id is None else "=" + event.conversation_id
            args += [dedup_digest(event.dedup_key), event.hub_id, conversation, event.type]
            args.append(event.body)
        if self._wait_replicas:
            return await self._append_and_wait(args)
        return list(await self._append(self._log_keys, args))

    async def _append_and_wait(self, args: list[ScriptArg]) -> list[bytes]:
        """The append script and `WAIT` in one pipeline, on one connection (`WAIT` counts
        the replicas that have the connection's own last write). A `NOSCRIPT` (Redis lost
        its script cache) means nothing ran: the scripts are loaded and it runs again."""
        redis = self.link.redis
        route: dict[str, Any] = {}
        if isinstance(redis, RedisCluster):
            route["target_nodes"] = redis.get_node_from_key(self.link.keys.events)
        for attempt in range(2):
            async with redis.pipeline(transaction=False) as pipe:
                pipe.evalsha(self._append.sha, len(self._log_keys), *self._log_keys, *args)
                pipe.execute_command("WAIT", self._wait_replicas, self._wait_ms, **route)
                ids, acknowledged = await pipe.execute(raise_on_error=False)
            if isinstance(ids, NoScriptError) and attempt == 0:
                await self.link.scripts.load()
                continue
            for result in (ids, acknowledged):
                if isinstance(result, Exception):
                    raise result
            if int(acknowledged) < self._wait_replicas:
                raise ReplicasBehind(
                    f"redis: stored, but {acknowledged} of {self._wait_replicas} replicas "
                    f"acknowledged it within {self._wait_ms} ms"
                )
            return list(ids)
        raise AssertionError("unreachable")

    @guarded
    async def seen(self, dedup_keys: Sequence[str]) -> list[bool]:
        """With replicas to wait for, nothing is reported seen: a redelivery answered from
        here would be a 202 without the `WAIT` that `append` does for duplicates too (the
        first copy may not have reached a replica yet), so callers go on to `append`."""
        if not dedup_keys or self._wait_replicas:
            return [False] * len(dedup_keys)
        found = await self._lookups.call([dedup_digest(key) for key in dedup_keys])
        return [bool(flag) for flag in found]

    async def _seen_batch(self, digests: list[bytes]) -> list[int]:
        """One run of `log_seen.lua` for every lookup of a turn of the loop (`batching.py`):
        every webhook asks before it is normalised whether it is a redelivery, and a
        command per webhook was most of what Redis cost per webhook."""
        return list(await self._seen([self.link.keys.dedup_index], digests))

    async def _read_after(self, cursor: str, limit: int) -> list[StoredEvent]:
        since = self.link.health.errors
        entries: Any = await self.link.redis.xrange(
            self.link.keys.events, min="(" + stream_id(cursor), count=limit
        )
        self.link.health.answered(since)
        return [event_from_entry(raw_id, fields) for raw_id, fields in entries]

    @guarded_local
    async def read_after(self, cursor: str, limit: int) -> list[StoredEvent]:
        """From the recent tail when it holds the whole page, else from Redis."""
        page = self._reader.tail.page(parse_stream_id(cursor), limit)
        return page if page is not None else await self._read_after(cursor, limit)

    @guarded_local
    async def wait_after(self, cursor: str, limit: int, wait_seconds: float) -> list[StoredEvent]:
        """A cursor in the recent tail is answered from it (what the reader has read so far
        after it; at the tip, the next wake brings more); any other is read from Redis."""
        deadline = asyncio.get_running_loop().time() + wait_seconds
        position = parse_stream_id(cursor)
        pending = self._reader.pending()
        while True:
            events = self._reader.tail.following(position, limit)
            if events is None:
                events = await self._read_after(cursor, limit)
            if events:
                return events
            while True:
                wake = await next_wake(pending, deadline)
                if wake is None:
                    return []
                if wake.error is not None:
                    raise wake.error
                pending = wake.next
                if wake.events or wake.roster:
                    break

    @guarded
    async def last_id(self) -> str:
        last_ms, last_seq, floor = await self.link.redis.hmget(
            self.link.keys.log_meta, ["last_ms", "last_seq", "floor"]
        )
        floor_id = text(floor) if floor else EMPTY_FLOOR
        if last_ms is None:
            return floor_id
        return max(event_id_at(int(last_ms), int(last_seq or 0)), floor_id)

    @guarded
    async def history_floor(self) -> str:
        floor = await self.link.redis.hget(self.link.keys.log_meta, "floor")
        return text(floor) if floor else EMPTY_FLOOR

    @guarded
    async def trim(self, older_than_ms: int, max_bytes: int) -> int:
        removed = await self._trim(
            self._log_keys, [older_than_ms, max_bytes, MAX_SEQ, SCRIPT_ID_FORMAT]
        )
        if removed:
            # What this process trimmed is gone from its reads too; the tail starts over
            # from the next batch the reader reads.
            self._reader.tail.restart(None)
        return int(removed)

    @guarded
    async def size(self) -> LogSize:
        keys = self.link.keys
        async with self.link.redis.pipeline(transaction=True) as pipe:
            pipe.xlen(keys.events)
            pipe.hmget(keys.log_meta, ["appended", "dropped"])
            count, (appended, dropped) = await pipe.execute()
        return LogSize(events=int(count), bytes=int(appended or 0) - int(dropped or 0))
