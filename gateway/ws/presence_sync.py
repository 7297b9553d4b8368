"""Presence across processes: three loops per process.

- The heartbeat keeps this process's sessions alive in the store (`PRESENCE_TTL_SECONDS`);
  when a beat finds the process had expired (it may have been reaped as dead, after a long
  pause or an engine outage), its live sessions join again.
- The reaper removes the sessions of processes that stopped beating: a crashed process's
  agents leave the roster within `PRESENCE_TTL_SECONDS + REAP_SECONDS` (45 s; the takeover
  bound is 60 s). Every process reaps; reaping is idempotent.
- The roster feed follows the store's change feed and sends each changed hub's roster,
  encoded once, to this process's sessions present in it — whichever process made the
  change. Changes are coalesced per hub: a hub's rosters go out at `ROSTERS_PER_SECOND`
  (after a burst of `ROSTER_BURST`, so ordinary comings and goings go out at once and in
  order); a roster held back is read when it goes, so the last frame is the current roster
  however fast an agent flips its status.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from gateway.engine.base import EngineUnavailable
from gateway.loops import LoopBody
from gateway.times import now_ms
from gateway.ws.presence import Presence, roster_frame
from gateway.ws.router import SessionRouter

log = logging.getLogger("gateway.presence")

HEARTBEAT_SECONDS = 10.0
PRESENCE_TTL_SECONDS = 30.0
REAP_SECONDS = 5.0
ROSTERS_PER_SECOND = 4.0
ROSTER_BURST = 4.0
FEED_WAIT_SECONDS = 1.0
BACKOFF_SECONDS = 1.0


async def beat_once(presence: Presence, router: SessionRouter) -> None:
    if await presence.store.heartbeat(
        presence.instance_id, now_ms(), int(PRESENCE_TTL_SECONDS * 1000)
    ):
        await presence.rejoin(list(router.sessions.values()))


def presence_heartbeat_loop(presence: Presence, router: SessionRouter) -> LoopBody:
    async def run(beat: Callable[[], None]) -> None:
        while True:
            beat()
            try:
                await beat_once(presence, router)
            except EngineUnavailable:
                log.warning("engine unavailable; presence heartbeat missed")
            await asyncio.sleep(HEARTBEAT_SECONDS)

    return run


def reap_loop(presence: Presence) -> LoopBody:
    async def run(beat: Callable[[], None]) -> None:
        while True:
            beat()
            try:
                await presence.store.reap(now_ms())
            except EngineUnavailable:
                log.warning("engine unavailable; presence not reaped this round")
            await asyncio.sleep(REAP_SECONDS)

    return run


class RosterFeed:
    def __init__(self, presence: Presence, router: SessionRouter) -> None:
        self._store = presence.store
        self._router = router
        self._pending: dict[str, None] = {}
        """Hubs whose roster is owed, in the order they changed."""
        self._budget: dict[str, tuple[float, float]] = {}
        """Hubs whose rosters went out lately: (tokens left, when counted)."""

    async def run(self, beat: Callable[[], None]) -> None:
        cursor: str | None = None
        while True:
            beat()
            try:
                changes = await self._store.changes_after(cursor, self._wait(time.monotonic()))
                cursor = changes.cursor
                hub_ids = changes.hub_ids if changes.complete else self._router.present_hubs()
                self._pending.update(
                    dict.fromkeys(h for h in hub_ids if self._router.present_in(h))
                )
                await self._send_due(time.monotonic())
            except EngineUnavailable:
                log.warning("engine unavailable; presence feed retrying")
                await asyncio.sleep(BACKOFF_SECONDS)

    def _tokens(self, hub_id: str, now: float) -> float:
        tokens, counted = self._budget.get(hub_id, (ROSTER_BURST, now))
        return min(ROSTER_BURST, tokens + (now - counted) * ROSTERS_PER_SECOND)

    def _wait(self, now: float) -> float:
        """Until the next held-back roster may go, or the feed's own wait."""
        waits = [(1.0 - self._tokens(h, now)) / ROSTERS_PER_SECOND for h in self._pending]
        return max(0.0, min(waits, default=FEED_WAIT_SECONDS))

    async def _send_due(self, now: float) -> None:
        for hub_id in list(self._pending):
            tokens = self._tokens(hub_id, now)
            if tokens < 1.0:
                continue
            del self._pending[hub_id]
            self._budget[hub_id] = (tokens - 1.0, now)
            self._router.send_to_present(hub_id, await roster_frame(self._store, hub_id))
        for hub_id in [h for h in self._budget if self._tokens(h, now) >= ROSTER_BURST]:
            del self._budget[hub_id]  # as good as new: forgotten, so the map stays small
