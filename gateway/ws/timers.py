"""A session's clocks: the application `ping` frame and the token's expiry with its grace.

Timer callbacks, not tasks: an idle session costs two scheduled handles, nothing more.
"""

from __future__ import annotations

import asyncio
import time

from gateway.ws.frames import CLOSE_UNAUTHENTICATED, PING_FRAME, error_frame
from gateway.ws.session import Session

EXPIRED_FRAME = error_frame(
    "expired_token", "The token has expired; send a refresh frame with a new token."
)


class SessionTimers:
    def __init__(self, session: Session, heartbeat_seconds: float, grace_seconds: float) -> None:
        self._session = session
        self._heartbeat = heartbeat_seconds
        self._grace = grace_seconds
        self._loop = asyncio.get_running_loop()
        self._ping = self._loop.call_later(heartbeat_seconds, self._send_ping)
        self._expiry: asyncio.TimerHandle | None = None
        self.track_expiry()

    def _send_ping(self) -> None:
        self._session.outbox.offer(PING_FRAME)
        self._ping = self._loop.call_later(self._heartbeat, self._send_ping)

    def _expired(self) -> bool:
        return self._session.grant.expires_at <= time.time()

    def track_expiry(self) -> None:
        """(Re)arm the expiry timer for the session's current grant."""
        if self._expiry is not None:
            self._expiry.cancel()
        delay = max(self._session.grant.expires_at - time.time(), 0.0)
        self._expiry = self._loop.call_later(delay, self._on_expiry)

    def _on_expiry(self) -> None:
        if not self._expired():
            self.track_expiry()
            return
        self._session.outbox.offer(EXPIRED_FRAME)
        self._expiry = self._loop.call_later(self._grace, self._on_grace_over)

    def _on_grace_over(self) -> None:
        if not self._expired():
            self.track_expiry()
            return
        self._session.close(CLOSE_UNAUTHENTICATED, "token expired")

    def cancel(self) -> None:
        self._ping.cancel()
        if self._expiry is not None:
            self._expiry.cancel()
