"""Client connections: deadlines, the connection cap, and how the server names itself.

A client must not be able to hold a connection, or the memory behind it, for longer than
the gateway allows. Each connection (`GatewayConnection`) therefore keeps two deadlines
beside aiohttp's keep-alive:

- the **header deadline** (`http_header_timeout_seconds`): from the connection's opening,
  or from the first byte after an answer, until a request's headers have been read. A
  silent socket and headers sent a byte at a time are closed when it passes (nothing is
  answered: there is no request to answer).
- the **body deadline** (`http_body_timeout_seconds`): from the start of a request whose
  body has not all arrived, until it has. The whole body counts, not each chunk, so a
  trickle cannot keep it alive. When it passes, the body's reader fails with
  `BodyDeadlineExceeded`, which `read_limited` answers 408 `request_timeout` (connection
  closed); a body nobody reads makes aiohttp close the connection.
- the **keep-alive** (`http_keepalive_seconds`): aiohttp's own idle timeout between
  requests, which the gateway sets.
- the **send deadline** (`http_send_timeout_seconds`): from the moment the transport's
  buffer fills (the client is not taking an answer: `pause_writing`) until it takes enough
  of it (`resume_writing`). A client that sends requests and never reads the answers would
  otherwise hold its connection for ever, the handler waiting to write; when it passes,
  the connection is dropped (`abort`: closing would wait for the buffer to drain). A
  websocket is handed over to its own limits (`hand_over_to_websocket`): a backlog in
  bytes and heartbeats.

The server (`GatewayServer`) counts open connections; past `max_connections` a new one is
answered a canned 503 `unavailable` the moment it is accepted, without reading or parsing
anything, and closed (`_OverCapacity`): a load balancer sees an answer it can retry
elsewhere, and the refusal costs one write. Refusals of either kind are counted in
`gateway_http_refused_total{reason}`.

aiohttp has no public setting for any of this but the keep-alive, so it is done with names
aiohttp keeps private, on purpose and fenced: `BaseRunner._make_server` (overridden), the
`Server`'s `_loop` and `_kwargs` and its constructor's parameters (the server is rebuilt
from them), `Server.__call__` (the per-connection protocol factory, which may return any
asyncio protocol), `Server.connection_lost`, the request factory's arguments
`(message, payload, protocol, writer, task)`, `RequestHandler(manager, loop=..., **kwargs)`,
its `connection_made` / `data_received` / `connection_lost`, `log_access` (called once
each request is answered), `log_exception` and `handle_error(request, status, exc,
message)`, aiohttp's lingering read after an answer treating a `TimeoutError` on the
body as the end, and the transport's flow control reaching the handler (`pause_writing`,
`resume_writing`), which `request.protocol` is. aiohttp is pinned below its next major, and
`tests/http/test_aiohttp_canaries.py` fails, naming what changed, as soon as a release moves
any of them.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader
from prometheus_client import Counter

from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.http.appkeys import METRICS, SETTINGS
from gateway.http.body import BodyDeadlineExceeded
from gateway.http.errors import raw_error_answer
from gateway.http.protocol_errors import (
    MAX_HEADER_FIELD_BYTES,
    MAX_HEADERS,
    MAX_REQUEST_LINE_BYTES,
    refusal_response,
)
from gateway.http.request_id import HEADER, new_request_id

log = logging.getLogger("gateway.connections")

SERVER_NAME = "gateway"
"""The `Server` header of every answer: the product, never a version to look up flaws by
(aiohttp would announce its own and Python's)."""

REFUSAL_REASONS = ("connection_limit", "header_timeout", "body_timeout", "send_timeout")

_OVER_CAPACITY_LINGER_SECONDS = 1.0
"""How long a connection refused at the cap may stay open for the client to read the 503."""

RequestFactory = Callable[
    [
        RawRequestMessage,
        StreamReader,
        web.RequestHandler,
        AbstractStreamWriter,
        "asyncio.Task[None]",
    ],
    web.BaseRequest,
]


DESCRIPTOR_HEADROOM = 256
"""Descriptors the process needs beside client connections: listening sockets, the
engine's and the delivery client's connections, files."""


def raise_descriptor_limit(max_connections: int) -> None:
    """The cap is only an answer while accepting still works: past the process's limit on
    open descriptors, accept() fails and nothing is answered at all. Raise the soft limit
    towards the hard one to fit `max_connections`, and warn once when it cannot."""
    needed = max_connections + DESCRIPTOR_HEADROOM
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        log.warning(
            "open-file limit %d is below max_connections + %d: raise it (ulimit -n %d) or "
            "lower max_connections, else connections past it fail instead of getting a 503",
            target,
            DESCRIPTOR_HEADROOM,
            needed,
        )


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_seconds: float
    body_timeout_seconds: float
    send_timeout_seconds: float
    max_connections: int

    @classmethod
    def of(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            header_timeout_seconds=settings.http_header_timeout_seconds,
            body_timeout_seconds=settings.http_body_timeout_seconds,
            send_timeout_seconds=settings.http_send_timeout_seconds,
            max_connections=settings.max_connections,
        )


class GatewayConnection(web.RequestHandler):
    """One client connection: aiohttp's protocol, plus the header and body deadlines.

    `_awaiting_request` is True from the opening and from each answer until the next
    request starts; the header deadline runs only then. The body deadline belongs to the
    request being read and is cancelled by the arrival of its body's end. The send deadline
    runs while the transport's buffer is full, unless the connection became a websocket."""

    __slots__ = (
        "_awaiting_request",
        "_body_deadline",
        "_header_deadline",
        "_send_deadline",
        "_server",
        "_timers",
        "_websocket",
    )

    def __init__(
        self, server: GatewayServer, *, loop: asyncio.AbstractEventLoop, **kwargs: Any
    ) -> None:
        super().__init__(server, loop=loop, **kwargs)
        self._server = server
        self._timers = loop
        self._awaiting_request = True
        self._header_deadline: asyncio.TimerHandle | None = None
        self._body_deadline: asyncio.TimerHandle | None = None
        self._send_deadline: asyncio.TimerHandle | None = None
        self._websocket = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        """The first bytes of a request on a kept-alive connection start its header
        deadline, unless they hold the end of a head (the usual case: a whole request in
        one read), which starts the request at once. A head left unfinished behind a
        pipelined request, and silent, is closed by the keep-alive."""
        if (
            self._awaiting_request
            and self._header_deadline is None
            and data
            and b"\r\n\r\n" not in data
        ):
            self._arm_header_deadline()
        super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        for timer in (self._header_deadline, self._body_deadline, self._send_deadline):
            if timer is not None:
                timer.cancel()
        self._header_deadline = self._body_deadline = self._send_deadline = None
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        """The transport's buffer is full: the send deadline starts."""
        super().pause_writing()
        if not self._websocket:
            self._send_deadline = self._timers.call_later(
                self._server.limits.send_timeout_seconds, self._answer_not_taken
            )

    def resume_writing(self) -> None:
        """The client took enough of the buffer: the send deadline stops."""
        if self._send_deadline is not None:
            self._send_deadline.cancel()
            self._send_deadline = None
        super().resume_writing()

    def hand_over_to_websocket(self) -> None:
        self._websocket = True
        if self._send_deadline is not None:
            self._send_deadline.cancel()
            self._send_deadline = None

    def request_started(self, payload: StreamReader) -> None:
        """Called by the server's request factory as a request's handling begins: its
        headers are in, so the header deadline stops and, unless the whole body is already
        here, the body deadline starts."""
        self._awaiting_request = False
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None
        if self._body_deadline is not None:
            self._body_deadline.cancel()
            self._body_deadline = None
        if not payload.is_eof():
            deadline = self._timers.call_later(
                self._server.limits.body_timeout_seconds, self._body_too_slow, payload
            )
            payload.on_eof(deadline.cancel)
            self._body_deadline = deadline

    def log_access(
        self, request: web.BaseRequest, response: web.StreamResponse, time: float | None
    ) -> None:
        """aiohttp calls this once each answer is written: the next byte starts a request."""
        super().log_access(request, response, time)
        self._awaiting_request = True

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """A request refused before routing, answered in the error format."""
        response = refusal_response(request, status, exc)
        response.headers["Server"] = SERVER_NAME
        return response

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        """aiohttp reads what is left of a body after the answer and logs a traceback when
        that body is broken (an undecodable gzip body answered 415): the client's fault,
        already answered, so one debug line instead."""
        exc = kwargs.get("exc_info")
        if isinstance(exc, web.RequestPayloadError):
            log.debug("a request body left unread was malformed: %s", exc)
            return
        super().log_exception(*args, **kwargs)

    def _arm_header_deadline(self) -> None:
        self._header_deadline = self._timers.call_later(
            self._server.limits.header_timeout_seconds, self._headers_too_slow
        )

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self._awaiting_request or self.transport is None:
            return
        self._server.count_refused("header_timeout")
        log.debug("closed a connection whose request headers did not arrive in time")
        self.force_close()

    def _answer_not_taken(self) -> None:
        self._send_deadline = None
        if self.transport is None:
            return
        self._server.count_refused("send_timeout")
        log.debug("dropped a connection whose client did not take its answer in time")
        self.transport.abort()

    def _body_too_slow(self, payload: StreamReader) -> None:
        self._body_deadline = None
        if payload.is_eof() or payload.exception() is not None:
            return
        self._server.count_refused("body_timeout")
        log.debug("a request body did not arrive in time")
        payload.set_exception(BodyDeadlineExceeded())


def hand_over_to_websocket(request: web.BaseRequest) -> None:
    """Called once a request became a websocket: its writes are bounded by the websocket
    layer from then on (a backlog in bytes, closed 4008; heartbeats), not by the send
    deadline, which would otherwise cut a session merely behind by more than a buffer."""
    protocol = request.protocol
    if isinstance(protocol, GatewayConnection):
        protocol.hand_over_to_websocket()


AT_CONNECTION_LIMIT = GatewayError(
    "unavailable",
    "The gateway is at its connection limit; retry shortly.",
    503,
    {"Retry-After": "1"},
)
_OVER_CAPACITY_HEAD, _OVER_CAPACITY_TAIL = raw_error_answer(
    AT_CONNECTION_LIMIT, {"Server": SERVER_NAME, "Connection": "close"}
)
"""The answer past the connection cap, encoded once; each connection adds its request id."""


class _OverCapacity(asyncio.Protocol):
    """A connection past the cap: the canned 503 written as it is accepted, then closed.
    Nothing it sends is parsed; it is read and dropped for a moment, so that closing does
    not reset the connection before the client has read the answer."""

    __slots__ = ("_closer",)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.Transport, transport)
        request_id = f"{HEADER}: {new_request_id()}\r\n".encode()
        stream.write(_OVER_CAPACITY_HEAD + request_id + _OVER_CAPACITY_TAIL)
        if stream.can_write_eof():
            stream.write_eof()
        loop = asyncio.get_running_loop()
        self._closer = loop.call_later(_OVER_CAPACITY_LINGER_SECONDS, stream.abort)

    def data_received(self, data: bytes) -> None:
        """Dropped: see the class docstring."""

    def eof_received(self) -> bool:
        return False  # the client has finished too: close

    def connection_lost(self, exc: BaseException | None) -> None:
        self._closer.cancel()


class GatewayServer(web.Server):
    """aiohttp's server, making `GatewayConnection`s up to `limits.max_connections`."""

    def __init__(
        self,
        handler: Any,
        *,
        request_factory: RequestFactory,
        limits: ConnectionLimits,
        refused: Counter,
        **kwargs: Any,
    ) -> None:
        def start_request(
            message: RawRequestMessage,
            payload: StreamReader,
            protocol: web.RequestHandler,
            writer: AbstractStreamWriter,
            task: asyncio.Task[None],
        ) -> web.BaseRequest:
            cast(GatewayConnection, protocol).request_started(payload)
            return request_factory(message, payload, protocol, writer, task)

        super().__init__(handler, request_factory=start_request, **kwargs)
        self.limits = limits
        self._refused = {reason: refused.labels(reason) for reason in REFUSAL_REASONS}
        self._open = 0

    def count_refused(self, reason: str) -> None:
        self._refused[reason].inc()

    def __call__(self) -> asyncio.Protocol:  # type: ignore[override]
        """The loop asks for a protocol per accepted connection; past the cap it gets one
        that is not a `RequestHandler` at all. Counted here, not in `connection_made`: the
        loop may accept a burst of connections before any of them is made."""
        if self._open >= self.limits.max_connections:
            self.count_refused("connection_limit")
            return _OverCapacity()
        self._open += 1
        return GatewayConnection(self, loop=self._loop, **self._kwargs)

    def connection_lost(
        self, handler: web.RequestHandler, exc: BaseException | None = None
    ) -> None:
        super().connection_lost(handler, exc)
        self._open -= 1


class GatewayRunner(web.AppRunner):
    """An `AppRunner` whose server is a `GatewayServer` with the app's limits."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        settings = self.app[SETTINGS]
        handler_settings = {
            **made._kwargs,
            "keepalive_timeout": settings.http_keepalive_seconds,
            "max_line_size": MAX_REQUEST_LINE_BYTES,
            "max_field_size": MAX_HEADER_FIELD_BYTES,
            "max_headers": MAX_HEADERS,
        }
        return GatewayServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=made._loop,
            limits=ConnectionLimits.of(settings),
            refused=self.app[METRICS].http_refused,
            **handler_settings,
        )
