"""One agent websocket: `AgentConnection` owns the socket, its transport, the session's byte
budget (it is an `Outbox`) and its closing; it feeds the protocol (`protocol.Rules`) what
the client sends, and the time, and carries out what the protocol decides.

The reading task awaits only what the protocol's actions must wait for (the engine's
presence store); a replay runs beside it, so client frames are read while history streams.
The fan-out's side (`deliver`, `offer_roster`, the outbox) never awaits. An idle connection
costs no task: one timer handle, for the state's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from gateway.engine.events import StoredEvent
from gateway.errors import GatewayError
from gateway.times import format_seconds
from gateway.ws.fanout import replay
from gateway.ws.frames import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_NORMAL,
    CLOSE_RATE_LIMITED,
    CLOSE_TOO_SLOW,
    server_frame,
)
from gateway.ws.outbox import Outbox
from gateway.ws.protocol import Step, ended_by
from gateway.ws.state import (
    NO_GRANT,
    Admit,
    Close,
    Phase,
    Regrant,
    Rescope,
    Send,
    SessionState,
    SetStatus,
    Signal,
    Text,
)

if TYPE_CHECKING:
    from gateway.ws.feature import WsRuntime

log = logging.getLogger("gateway.ws")

FLUSH_BEFORE_CLOSE_SECONDS = 2.0
CLOSE_TIMEOUT_SECONDS = 5.0
INTERNAL_ERROR_LOG = "unexpected error on a websocket; closing 1011"
_REPLAYING = Phase.REPLAYING
"""For `deliver`, once per event per session: on Python 3.11 `Phase.REPLAYING` is an
attribute lookup on the enum's class costing ~70 ns, as much as the scope check."""


class AgentConnection(Outbox):
    __slots__ = (
        "_closing",
        "_replay",
        "_timer",
        "last_event_id",
        "presence_hubs",
        "rosters",
        "runtime",
        "session_id",
        "state",
    )

    def __init__(
        self,
        runtime: WsRuntime,
        ws: web.WebSocketResponse[bool],
        transport: asyncio.Transport | None,
        session_id: str,
        state: SessionState,
    ) -> None:
        super().__init__(ws, transport, runtime.settings.ws_max_backlog_bytes)
        self.runtime = runtime
        self.session_id = session_id
        self.state = state
        self.last_event_id: str | None = None
        self.presence_hubs: tuple[str, ...] = ()
        """The hubs of its grant, as presence and the router know them: where the agent
        is present and hears presence (a narrowed scope does not hide its colleagues)."""
        self.rosters: dict[str, int] = {}
        """Per hub, a digest of the last roster frame sent: a session is never sent a
        roster it already has, so what it sees is what changed."""
        self._closing: asyncio.Task[None] | None = None
        self._replay: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    @property
    def agent_id(self) -> str:
        return self.state.grant.agent_id

    # --- the session, from admission to its end -----------------------------------------

    async def serve(self, bearer_step: Step | None) -> None:
        """Admit the agent (by `bearer_step`, the upgrade's admission, or by the first
        frame), then feed the protocol each client frame until the socket closes. An
        unexpected error closes 1011 (never an HTTP answer written into the stream)."""
        try:
            if bearer_step is None:
                self._arm()  # the auth timeout
            else:
                await self._perform(bearer_step)
            rules = self.runtime.rules
            while self.state.phase not in (Phase.CLOSING, Phase.CLOSED):
                message = await self.ws.receive()
                if message.type is WSMsgType.TEXT:
                    await self._perform(rules.step(self.state, Text(message.data), time.time()))
                elif message.type is WSMsgType.BINARY:
                    await self._perform(rules.step(self.state, Signal.BINARY, time.time()))
                else:
                    break
        except GatewayError as exc:
            self._apply(ended_by(self.state, exc))
        except Exception:
            log.exception(INTERNAL_ERROR_LOG, extra=self._log_fields())
            self.close(CLOSE_INTERNAL_ERROR, "internal error")
        finally:
            self._detach()
            await asyncio.shield(self.runtime.keep(self._end()))

    def refused(self, signal: Signal, aiohttp_code: int) -> tuple[int, str]:
        """aiohttp refused a frame and is closing the socket: the error frame the protocol
        sends is written now, and the close carries its code."""
        self.state, actions = self.runtime.rules.step(self.state, signal, time.time())
        for action in actions:
            if isinstance(action, Send):
                self.offer(action.frame)
            elif isinstance(action, Close):
                return action.code, action.reason
        return aiohttp_code, ""

    async def _perform(self, step: Step) -> None:
        for wait in self._apply(step):
            await wait()

    def _apply(self, step: Step) -> list[Callable[[], Awaitable[None]]]:
        """Take the step's state and carry out its actions in order: those that need no
        waiting at once; those that wait on the engine are returned, to be awaited in turn
        (the next frame is read after them)."""
        deadline = self.state.deadline
        self.state, actions = step
        waits: list[Callable[[], Awaitable[None]]] = []
        presence = self.runtime.presence
        for action in actions:
            if isinstance(action, Send):
                self.offer(action.frame)
            elif isinstance(action, Close):
                self.close(action.code, action.reason)
            elif isinstance(action, Rescope):
                self.runtime.router.rescope(self, action.previous)
            elif isinstance(action, Admit):
                waits.append(self._open_session(action))
            elif isinstance(action, SetStatus):
                waits.append(partial(presence.status_set, self, action.status))
            elif isinstance(action, Regrant):
                hubs = tuple(sorted(self.state.grant.hub_ids))
                waits.append(partial(presence.regranted, self, hubs))
        if self._timer is None or self.state.deadline != deadline:
            self._arm()
        return waits

    def _open_session(self, admit: Admit) -> Callable[[], Awaitable[None]]:
        """The session opens: `ready` first, then into the router, in one step with reading
        where it goes live (`lastEventId`: every greater id reaches it). What waits on the
        engine (presence, then any replay) is returned."""
        runtime, grant = self.runtime, self.state.grant
        runtime.done_waiting(self)
        live_from = runtime.router.live_from
        ready = server_frame(
            "ready",
            sessionId=self.session_id,
            agentId=grant.agent_id,
            hubIds=sorted(self.state.scope.hub_ids),
            expiresAt=format_seconds(grant.expires_at),
            heartbeatSeconds=runtime.settings.ws_heartbeat_seconds,
            **({} if live_from is None else {"lastEventId": live_from}),
        )
        self.offer(ready)
        self.presence_hubs = tuple(sorted(grant.hub_ids))
        runtime.router.add(self)
        log.debug("session opened", extra=self._log_fields())

        async def join_then_replay() -> None:
            await runtime.presence.joined(self)
            if self.state.phase is Phase.REPLAYING:
                self._replay = asyncio.create_task(self._replay_then_go_live(admit))

        return join_then_replay

    async def _replay_then_go_live(self, admit: Admit) -> None:
        """Beside the reading of client frames (a `refresh` must not wait for it)."""
        try:
            await replay(self, self.runtime.engine.events, admit)
        except GatewayError as exc:
            self._apply(ended_by(self.state, exc))
        except Exception:
            log.exception(INTERNAL_ERROR_LOG, extra=self._log_fields())
            self.close(CLOSE_INTERNAL_ERROR, "internal error")

    def finish_replay(self, last_replayed_id: str | None) -> None:
        """Go live: release parked frames newer than the replay. Runs without awaiting, so
        the fan-out loop cannot slip an event in between."""
        self.last_event_id = last_replayed_id
        self.unpark_after(last_replayed_id)
        self.state = self.state.replayed()

    def _arm(self) -> None:
        """One timer, for the state's deadline (auth timeout, expiry, end of the grace)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.state.phase in (Phase.CLOSING, Phase.CLOSED):
            return
        delay = max(0.0, self.state.deadline - time.time())
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_deadline)

    def _on_deadline(self) -> None:
        self._timer = None
        self._apply(self.runtime.rules.step(self.state, Signal.TICK, time.time()))
        # a tick only ever sends and closes: nothing is left to wait on

    def _detach(self) -> None:
        """Out of every index, no timer, no replay: nothing reaches the session any more."""
        runtime = self.runtime
        runtime.done_waiting(self)
        runtime.router.remove(self)
        if self._timer is not None:
            self._timer.cancel()
        if self._replay is not None:
            self._replay.cancel()

    async def _end(self) -> None:
        """Close and leave presence in a task of its own: it must complete even when the
        server cancels the handler because the client vanished."""
        await self.close(CLOSE_NORMAL, "")
        log.debug("session closed", extra={**self._log_fields(), "closeCode": self.ws.close_code})
        if self.state.grant is NO_GRANT:
            return
        await self.runtime.presence.left(self)

    def close(self, code: int, reason: str) -> asyncio.Task[None]:
        """Close once (later calls get the same task): out of the fan-out at once, flush
        what is queued unless closing for the backlog, then close the socket with `code`."""
        if self._closing is None:
            self.state = self.state.closing()
            if code == CLOSE_RATE_LIMITED:
                self.runtime.metrics.ws_refused.labels("rate_limited").inc()
                log.warning("client-frame flood; closing 4429", extra=self._log_fields())
            asyncio.get_running_loop().call_soon(self.runtime.router.remove, self)
            self._closing = asyncio.create_task(self._close(code, reason), name="ws-close")
        return self._closing

    async def _close(self, code: int, reason: str) -> None:
        if code != CLOSE_TOO_SLOW:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drained(), FLUSH_BEFORE_CLOSE_SECONDS)
        self._shut()
        try:
            closing = self.ws.close(code=code, message=reason.encode())
            await asyncio.wait_for(closing, CLOSE_TIMEOUT_SECONDS)
        except (TimeoutError, ConnectionError, RuntimeError):
            if self.transport is not None:
                self.transport.abort()  # a client that stopped reading
        self.state = self.state.closed()

    def _log_fields(self) -> dict[str, str]:
        return {"sessionId": self.session_id, "agentId": self.agent_id}

    # --- the fan-out's side: never awaits -----------------------------------------------

    def deliver(self, event: StoredEvent, wire: bytes) -> None:
        """A live event, as its whole frame (`wire_text_frame`), routed to one of the
        session's hubs (the router indexes sessions by their scope's hubs). Once per event
        per session: a live session taking every event of its hubs, the usual one, is
        sent it without a look at its scope or phase."""
        state = self.state
        if not state.takes_every_event:
            if not state.scope.sees(event):
                return
            if state.phase is _REPLAYING:
                self.park(event.id, wire)
                return
        event_id, last = event.id, self.last_event_id
        if last is not None and event_id <= last:
            return
        self.last_event_id = event_id
        self.send(wire)

    def offer_roster(self, hub_id: str, frame: bytes) -> None:
        digest = hash(frame)
        if self.rosters.get(hub_id) != digest:
            self.rosters[hub_id] = digest
            self.offer(frame)

    def _overflow(self) -> None:
        self.runtime.metrics.ws_slow_disconnects.inc()
        log.warning("session too slow; closing 4008", extra=self._log_fields())
        self.close(CLOSE_TOO_SLOW, "too slow")
