"""The delivery queue in Redis, laid out as `gateway.engine.deliveries` describes: per
subscriber a sorted set of visible delivery ids by visibility time, a hash of records,
lanes, leases, dead letters and attempt logs; one sorted set of subscribers by earliest
visible time; all in one slot, each method one script (`lua/dq_*.lua`, the key list in
`dq_common.lua`); the concludes of one turn of the event loop go out together, as one run
of the conclude script (`batching.py`). Limits across processes (in flight, rate) are
checked inside `claim`; a dropped subscriber leaves a tombstone, so nothing is written for
it afterwards."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

import orjson

from gateway.engine.deliveries import (
    OVERFLOW_ERROR,
    Concluded,
    Conclusion,
    CursorConflict,
    CursorMove,
    DeadLetter,
    QueuedDelivery,
    QueueLimits,
    QueueStats,
    Record,
)
from gateway.engine.redis.batching import Batcher
from gateway.engine.redis.connection import Link, ScriptArg, guarded, text
from gateway.times import format_seconds

CONCLUDE_BATCH = 128
"""At most this many conclusions in one run of the conclude script: enough for every
attempt that ends in a busy turn of the loop, short enough for the script not to hold
Redis up."""


def _stored(delivery: QueuedDelivery, due_at: float) -> bytes:
    header = {
        "a": delivery.attempts,
        "e": delivery.event_id,
        "l": delivery.lane,
        "d": due_at,
        "n": len(delivery.payload),
    }
    return orjson.dumps(header) + b"\n" + delivery.payload


def _delivery(subscriber_id: str, delivery_id: bytes, value: bytes, claim: str) -> QueuedDelivery:
    header, _, payload = value.partition(b"\n")
    fields = orjson.loads(header)
    return QueuedDelivery(
        id=delivery_id.decode(),
        subscriber_id=subscriber_id,
        event_id=fields["e"],
        payload=payload,
        attempts=int(fields["a"]),
        lane=fields["l"],
        claim=claim,
    )


# The keys of the queue's slot every script may touch, and those of each subscriber (the
# list in `dq_common.lua`). Every script is given all it can touch that the caller can name,
# so that on a Cluster whose slot is being moved Redis refuses it before it runs (`TRYAGAIN`,
# `ASK`: unavailable) rather than failing halfway through on a key already moved. What
# remains undeclared is named by data read inside the script: the lanes of other
# deliveries when the byte cap or a drop forgets them.
FIXED_KEYS = ("stats", "subs", "parked", "cursors")
SUBSCRIBER_KEYS = ("sub", "rec", "due", "order", "leases", "claims", "lanes", "dead",
                   "deadorder", "att", "attorder")  # fmt: skip


class RedisDeliveryQueue:
    def __init__(self, link: Link, limits: QueueLimits | None = None) -> None:
        self.link = link
        self.limits = limits or QueueLimits()
        self._p = link.keys.dq
        self._slot = [f"{self._p}:{name}" for name in FIXED_KEYS]  # the first routes
        scripts = link.scripts
        self._enqueue = scripts.register("dq_common", "dq_enqueue")
        self._claim = scripts.register("dq_common", "dq_claim")
        self._conclude = scripts.register("dq_common", "dq_conclude")
        self._concludes: Batcher[Conclusion, Concluded] = Batcher(
            self._conclude_batch, CONCLUDE_BATCH
        )
        self._release = scripts.register("dq_common", "dq_release")
        self._park = scripts.register("dq_common", "dq_park")
        self._read = scripts.register("dq_common", "dq_read")
        self._drop = scripts.register("dq_common", "dq_drop")
        self._lease = scripts.register("dq_lease")

    def _keys(self, subscribers: Iterable[str], lanes: Iterable[tuple[str, str]] = ()) -> list[str]:
        """The fixed keys, every key of each subscriber, and the named lanes' keys."""
        keys = list(self._slot)
        for s in dict.fromkeys(subscribers):
            keys += [f"{self._p}:{name}:{s}" for name in SUBSCRIBER_KEYS]
        keys += [f"{self._p}:lane:{s}:{lane}" for s, lane in dict.fromkeys(lanes)]
        return keys

    @guarded
    async def enqueue(
        self,
        deliveries: Sequence[QueuedDelivery],
        due_at: float,
        pending: Sequence[Record],
        move: CursorMove | None = None,
    ) -> int:
        limits = self.limits
        args: list[ScriptArg] = [self._p, due_at]
        if move is None:
            args += ["", "", "", "0"]
        else:
            args += [move.name, move.expected or "", move.to, "0" if move.expected is None else "1"]
        args += [limits.max_queued_bytes, limits.max_dead_letters, limits.max_dead_bytes]
        args += [limits.attempt_log_size, format_seconds(due_at), OVERFLOW_ERROR]
        for delivery, record in zip(deliveries, pending, strict=True):
            args += [delivery.subscriber_id, delivery.id, delivery.event_id, delivery.lane or ""]
            args += [_stored(delivery, due_at), len(delivery.payload), orjson.dumps(record)]
        keys = self._keys(
            (d.subscriber_id for d in deliveries),
            ((d.subscriber_id, d.lane) for d in deliveries if d.lane),
        )
        added = int(await self._enqueue(keys, args))
        if added < 0:
            raise CursorConflict(move.name if move else "")
        return added

    @guarded
    async def cursor(self, name: str) -> str | None:
        value = await self.link.redis.hget(f"{self._p}:cursors", name)
        return None if value is None else text(value)

    @guarded
    async def hold_lease(self, name: str, holder: str, seconds: float) -> bool:
        ms = max(1, round(seconds * 1000))
        return bool(await self._lease([f"{self._p}:lease:{name}"], [holder, "hold", ms]))

    @guarded
    async def release_lease(self, name: str, holder: str) -> None:
        await self._lease([f"{self._p}:lease:{name}"], [holder, "release", 0])

    @guarded
    async def due_subscribers(self, now: float) -> list[str]:
        due: Any = await self.link.redis.zrangebyscore(f"{self._p}:subs", "-inf", now)
        return [text(subscriber) for subscriber in due]

    @guarded
    async def claim(
        self,
        subscriber_id: str,
        now: float,
        limit: int,
        lease_seconds: float,
        *,
        max_in_flight: int,
        rate_per_second: float | None = None,
    ) -> list[QueuedDelivery]:
        rate = "" if rate_per_second is None else rate_per_second
        args: list[ScriptArg] = [
            self._p,
            subscriber_id,
            now,
            limit,
            lease_seconds,
            max_in_flight,
            rate,
        ]
        flat = await self._claim(self._keys([subscriber_id]), args)
        return [
            _delivery(subscriber_id, flat[i], flat[i + 1], text(flat[i + 2]))
            for i in range(0, len(flat), 3)
        ]

    @guarded
    async def conclude(self, conclusion: Conclusion) -> Concluded:
        """Sent with every other conclude of this turn of the loop, in one script run
        (`batching.py`): each conclusion applied in the order they were made, as alone.
        Every attempt ends in one, and a command of its own each was most of what Redis
        cost per delivery."""
        [concluded] = await self._concludes.call([conclusion])
        return concluded

    async def _conclude_batch(self, conclusions: list[Conclusion]) -> list[Concluded]:
        """One run of `dq_conclude.lua` for a batch; every key of every subscriber and
        lane named is declared (all are in the queue's slot)."""
        limits = self.limits
        args: list[ScriptArg] = [self._p, limits.max_dead_letters, limits.max_dead_bytes]
        args.append(limits.attempt_log_size)
        for c in conclusions:
            d, failed_at = c.delivery, "" if c.failed_at is None else c.failed_at
            args += [d.subscriber_id, d.id, c.outcome, "" if c.due_at is None else c.due_at]
            args += [c.record_key, orjson.dumps(c.record), failed_at, d.attempts, d.claim]
        keys = self._keys(
            (c.delivery.subscriber_id for c in conclusions),
            ((c.delivery.subscriber_id, c.delivery.lane) for c in conclusions if c.delivery.lane),
        )
        flat = await self._conclude(keys, args)
        return [
            Concluded(applied=bool(applied), failing_since=float(failing) if failing else None)
            for applied, failing in zip(flat[::2], flat[1::2], strict=True)
        ]

    @guarded
    async def release(self, deliveries: Sequence[QueuedDelivery], now: float) -> None:
        if not deliveries:
            return
        args: list[ScriptArg] = [self._p, now]
        for delivery in deliveries:
            args += [delivery.subscriber_id, delivery.id, delivery.claim]
        await self._release(self._keys(d.subscriber_id for d in deliveries), args)

    @guarded
    async def park(self, subscriber_id: str) -> None:
        await self._park(self._keys([subscriber_id]), [self._p, subscriber_id, "park", 0])

    @guarded
    async def unpark(self, subscriber_id: str, now: float) -> None:
        await self._park(self._keys([subscriber_id]), [self._p, subscriber_id, "unpark", now])

    @guarded
    async def parked(self) -> list[str]:
        members: Any = await self.link.redis.smembers(f"{self._p}:parked")
        return [text(subscriber) for subscriber in members]

    @guarded
    async def dead_letters(self, subscriber_id: str, after: str, limit: int) -> list[DeadLetter]:
        keys = self._keys([subscriber_id])
        flat = await self._read(keys, [self._p, subscriber_id, "dead", after, limit])
        letters = []
        for i in range(0, len(flat), 2):
            record, _, payload = flat[i + 1].partition(b"\n")
            letters.append(DeadLetter(flat[i].decode(), payload, orjson.loads(record)))
        return letters

    @guarded
    async def attempts(self, subscriber_id: str) -> list[Record]:
        records = await self._read(
            self._keys([subscriber_id]), [self._p, subscriber_id, "attempts"]
        )
        return [orjson.loads(record) for record in records]

    @guarded
    async def drop_subscriber(self, subscriber_id: str) -> None:
        await self._drop(self._keys([subscriber_id]), [self._p, subscriber_id])

    @guarded
    async def stats(self, now: float) -> QueueStats:
        async with self.link.redis.pipeline(transaction=True) as pipe:
            fields = ["depth", "queued", "dead", "overflowed", "dead_dropped"]
            pipe.hmget(f"{self._p}:stats", fields)
            pipe.zrange(f"{self._p}:subs", 0, 0, withscores=True)
            values, earliest = cast(tuple[list[Any], list[Any]], await pipe.execute())
        depth, queued, dead, overflowed, dead_dropped = (int(v or 0) for v in values)
        oldest = max(0.0, now - earliest[0][1]) if earliest else 0.0
        return QueueStats(
            depth=depth,
            queued_bytes=queued,
            dead_bytes=dead,
            oldest_due_seconds=oldest,
            overflowed_total=overflowed,
            dead_dropped_total=dead_dropped,
        )
