"""The clocks of sessions: one process-wide loop sends the application `ping` frame to every
session, and each session has one timer handle for its token's expiry and grace (an idle
session costs a handle, not a task)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from gateway.loops import LoopBody
from gateway.ws.frames import CLOSE_UNAUTHENTICATED, PING_FRAME, error_frame
from gateway.ws.router import SessionRouter
from gateway.ws.session import Session

EXPIRED_FRAME = error_frame(
    "expired_token", "The token has expired; send a refresh frame with a new token."
)


def heartbeat_loop(router: SessionRouter, heartbeat_seconds: float) -> LoopBody:
    async def run(beat: Callable[[], None]) -> None:
        while True:
            beat()
            await asyncio.sleep(heartbeat_seconds)
            for session in list(router.sessions.values()):
                session.outbox.offer(PING_FRAME)

    return run


class ExpiryTimer:
    """Sends `expired_token` when the grant's `exp` passes, then closes 4001 unless a refresh
    moved `exp` on within the grace."""

    def __init__(self, session: Session, grace_seconds: float) -> None:
        self._session = session
        self._grace = grace_seconds
        self._loop = asyncio.get_running_loop()
        self._handle: asyncio.TimerHandle | None = None
        self.track()

    def _expired(self) -> bool:
        return self._session.grant.expires_at <= time.time()

    def track(self) -> None:
        """(Re)arm for the session's current grant."""
        self.cancel()
        delay = max(self._session.grant.expires_at - time.time(), 0.0)
        self._handle = self._loop.call_later(delay, self._on_expiry)

    def _on_expiry(self) -> None:
        if not self._expired():
            self.track()
            return
        self._session.outbox.offer(EXPIRED_FRAME)
        self._handle = self._loop.call_later(self._grace, self._on_grace_over)

    def _on_grace_over(self) -> None:
        if not self._expired():
            self.track()
            return
        self._session.close(CLOSE_UNAUTHENTICATED, "token expired")

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
