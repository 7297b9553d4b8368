"""Canaries for the aiohttp internals the gateway relies on on purpose.

aiohttp is pinned below its next major (pyproject), but a minor release may still rename,
re-sign or rewire a private name. Each test here checks one such name (existence, parameter
names, and the behaviour the gateway counts on, where that is cheap) against a real aiohttp
server, and fails with a message that says what changed and what in the gateway depends on it,
so an upgrade breaks here, loudly, instead of somewhere subtle.

The names, and who uses them:
- `BaseRunner._make_server`, `Server._loop`, `Server._kwargs`, the `Server` constructor's
  parameters, `Server.__call__` (and that it may return any asyncio protocol),
  `Server.connection_lost`, the request factory's arguments, `RequestHandler(manager,
  loop=..., **kwargs)` and its settings, `RequestHandler.connection_made` /
  `data_received` / `connection_lost`, `log_access` (called once per answer),
  `log_exception` (how a broken unread body is reported), `handle_error`, the lingering
  read after an answer ending quietly on a `TimeoutError`, the request payload's
  `on_eof` / `set_exception`, and the transport's flow control reaching the handler
  (`pause_writing` / `resume_writing`) which `request.protocol` is:
  gateway/http/connections.py (header, body and send deadlines, the connection cap,
  malformed HTTP answered in the gateway's error format).
- `request.writer.output_size`, `LineTooLong.args` carrying the limit that was broken and
  the message of a request over `max_headers`: gateway/http/protocol_errors.py (the answer
  to a request refused before routing; 431 for headers too large).
- `WebSocketResponse.close` called by aiohttp itself from `receive` on a frame over
  `max_msg_size`, and `decode_text=False` handing text frames over as unchecked bytes:
  gateway/ws/feature.py (`AgentWebSocket` has the protocol decide those closes: 4001 before
  admission, 4400 after; text that is not UTF-8 is refused by the protocol's own parsing).
- Frames written straight to `request.transport` beside aiohttp's websocket frame writer:
  gateway/ws/outbox.py (one encoded event framed without re-encoding).
"""

from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import aiohttp
import pytest
import websockets
from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_runner import BaseRunner

from gateway.http.body import BodyDeadlineExceeded
from gateway.http.protocol_errors import TOO_MANY_HEADERS
from gateway.ws.frames import wire_text_frame

CONNECTIONS = "gateway/http/connections.py"
REBUILD = (
    f"{CONNECTIONS} (GatewayRunner._make_server) rebuilds the runner's Server as "
    "GatewayServer(made.request_handler, request_factory=..., handler_cancellation=..., "
    "loop=made._loop, **made._kwargs)"
)


def changed(name: str, what: str, reliance: str) -> str:
    return f"aiohttp {aiohttp.__version__}: {name} {what}: {reliance}"


def parameter_names(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def keyword_only(function: Callable[..., Any]) -> set[str]:
    parameters = inspect.signature(function).parameters.values()
    return {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


async def ok(request: web.BaseRequest) -> web.Response:
    return web.Response(text="ok")


@pytest.fixture
async def app_runner() -> AsyncIterator[web.AppRunner]:
    runner = web.AppRunner(web.Application(), access_log=None, keepalive_timeout=12.5)
    await runner.setup()
    yield runner
    await runner.cleanup()


def made_server(runner: web.AppRunner) -> web.Server:
    assert runner.server is not None
    return runner.server


async def serve(runner: BaseRunner) -> tuple[web.TCPSite, int]:
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return site, site.port


async def exchange(port: int, raw: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


async def answer_of(server: web.Server, raw: bytes) -> bytes:
    """What `server`, served on a free port, answers to `raw` on a connection of its own."""
    runner = web.ServerRunner(server)
    await runner.setup()
    try:
        _, port = await serve(runner)
        return await exchange(port, raw)
    finally:
        await runner.cleanup()


# --- gateway/http/connections.py -----------------------------------------------------------


async def test_base_runner_make_server() -> None:
    name = "aiohttp.web_runner.BaseRunner._make_server"
    reliance = (
        f"{CONNECTIONS} (GatewayRunner) overrides it to serve every connection with a "
        "RequestHandler that answers malformed HTTP in the gateway's error format"
    )
    function = getattr(BaseRunner, "_make_server", None)
    assert function is not None, changed(name, "no longer exists", reliance)
    assert inspect.iscoroutinefunction(function), changed(name, "is no longer async", reliance)
    assert parameter_names(function) == ["self"], changed(
        name, f"changed signature to {inspect.signature(function)}", reliance
    )
    replacement = web.Server(ok)

    class Probe(web.AppRunner):
        async def _make_server(self) -> web.Server:
            await super()._make_server()
            return replacement

    runner = Probe(web.Application())
    await runner.setup()
    try:
        assert runner.server is replacement, changed(
            name, "is no longer where BaseRunner.setup() takes the runner's server from", reliance
        )
    finally:
        await runner.cleanup()


async def test_server_loop(app_runner: web.AppRunner) -> None:
    name = "aiohttp.web_server.Server._loop"
    loop = getattr(made_server(app_runner), "_loop", None)
    assert loop is not None, changed(name, "no longer exists", REBUILD)
    assert loop is asyncio.get_running_loop(), changed(
        name, f"is no longer the server's event loop (it is {loop!r})", REBUILD
    )


async def test_server_kwargs(app_runner: web.AppRunner) -> None:
    name = "aiohttp.web_server.Server._kwargs"
    kwargs = getattr(made_server(app_runner), "_kwargs", None)
    assert isinstance(kwargs, dict), changed(name, "no longer exists as a dict", REBUILD)
    assert kwargs.get("keepalive_timeout") == 12.5 and "access_log" in kwargs, changed(
        name,
        f"no longer holds the handler settings the runner was given (it holds {kwargs!r}); "
        "the rebuilt server would lose keep-alive, access-log and size settings",
        REBUILD,
    )


async def test_server_constructor_and_attributes(app_runner: web.AppRunner) -> None:
    name = "aiohttp.web_server.Server.__init__"
    expected = ["self", "handler", "request_factory", "handler_cancellation", "loop", "kwargs"]
    assert parameter_names(web.Server.__init__) == expected, changed(
        name,
        f"changed signature to {inspect.signature(web.Server.__init__)}; a parameter the "
        "rebuild does not pass on would be silently dropped",
        REBUILD,
    )
    server = made_server(app_runner)
    for attribute in ("request_handler", "request_factory", "handler_cancellation"):
        assert hasattr(server, attribute), changed(
            f"aiohttp.web_server.Server.{attribute}", "no longer exists", REBUILD
        )


async def test_server_call_is_the_per_connection_protocol_factory() -> None:
    name = "aiohttp.web_server.Server.__call__"
    reliance = (
        f"{CONNECTIONS} (GatewayServer) overrides it to build each connection's GatewayConnection"
    )
    assert parameter_names(web.Server.__call__) == ["self"], changed(
        name, f"changed signature to {inspect.signature(web.Server.__call__)}", reliance
    )
    made: list[web.RequestHandler] = []

    class CountingServer(web.Server):
        def __call__(self) -> web.RequestHandler:
            handler = super().__call__()
            made.append(handler)
            return handler

    answer = await answer_of(
        CountingServer(ok), b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert len(made) == 1, changed(
        name, "is no longer called once per connection to make its protocol", reliance
    )


async def test_request_handler_constructor(app_runner: web.AppRunner) -> None:
    name = "aiohttp.web_protocol.RequestHandler.__init__"
    reliance = (
        f"{CONNECTIONS} (GatewayServer.__call__) constructs "
        "GatewayConnection(self, loop=self._loop, **self._kwargs)"
    )
    from aiohttp import web_protocol

    assert web.RequestHandler is web_protocol.RequestHandler, changed(
        "aiohttp.web.RequestHandler", "is no longer aiohttp.web_protocol.RequestHandler", reliance
    )
    parameters = parameter_names(web.RequestHandler.__init__)
    signature = inspect.signature(web.RequestHandler.__init__)
    assert parameters[:2] == ["self", "manager"], changed(
        name, f"changed signature to {signature}", reliance
    )
    assert "loop" in keyword_only(web.RequestHandler.__init__), changed(
        name, f"no longer takes loop= by keyword: {signature}", reliance
    )
    settings = {"keepalive_timeout", "max_line_size", "max_field_size", "max_headers"}
    assert settings <= set(parameters), changed(
        name,
        f"no longer takes {sorted(settings - set(parameters))}: GatewayRunner sets the "
        "keep-alive and the header size limits through them",
        reliance,
    )
    refused = set(made_server(app_runner)._kwargs) - set(parameters)
    assert not refused, changed(
        name, f"no longer accepts the runner's settings {sorted(refused)}", reliance
    )


class _Refused:
    """What `handle_error` saw for a request aiohttp refused before routing."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, BaseException | None]] = []
        self.output_sizes: list[object] = []


async def _refuse(*requests: bytes, **settings: Any) -> tuple[_Refused, list[bytes]]:
    """Send each of `requests` (bytes that are not valid HTTP) on a connection of its own
    to a server, made with `settings`, whose handler records `handle_error`."""
    refused = _Refused()

    class RecordingHandler(web.RequestHandler):
        def handle_error(
            self,
            request: web.BaseRequest,
            status: int = 500,
            exc: BaseException | None = None,
            message: str | None = None,
        ) -> web.StreamResponse:
            refused.calls.append((status, exc))
            refused.output_sizes.append(getattr(request.writer, "output_size", None))
            return web.Response(status=status, text="recorded", headers={"X-Canary": "1"})

    class RecordingServer(web.Server):
        def __call__(self) -> web.RequestHandler:
            return RecordingHandler(self, loop=self._loop, **self._kwargs)

    runner = web.ServerRunner(RecordingServer(ok, **settings))
    await runner.setup()
    try:
        _, port = await serve(runner)
        answers = [await exchange(port, raw) for raw in requests]
    finally:
        await runner.cleanup()
    return refused, answers


async def _refuse_malformed_request() -> tuple[_Refused, bytes]:
    refused, (answer,) = await _refuse(b"GARBAGE\r\n\r\n")
    return refused, answer


async def test_request_handler_handle_error() -> None:
    name = "aiohttp.web_protocol.RequestHandler.handle_error"
    reliance = (
        f"{CONNECTIONS} (GatewayConnection) overrides it to answer requests refused "
        "before routing in the gateway's error format, without logging the offending bytes"
    )
    expected = ["self", "request", "status", "exc", "message"]
    assert parameter_names(web.RequestHandler.handle_error) == expected, changed(
        name, f"changed signature to {inspect.signature(web.RequestHandler.handle_error)}", reliance
    )
    refused, answer = await _refuse_malformed_request()
    assert [status for status, _ in refused.calls] == [400], changed(
        name, f"is no longer called with status 400 for malformed HTTP ({refused.calls})", reliance
    )
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.endswith(b" 400 Bad Request") and b"X-Canary: 1" in answer, changed(
        name, f"no longer has its response sent (the client got {answer[:200]!r})", reliance
    )


async def test_request_writer_output_size() -> None:
    name = "aiohttp.web_request.BaseRequest.writer.output_size"
    reliance = (
        "gateway/http/protocol_errors.py (refusal_response) reads it to tell whether an "
        "answer has already started, as aiohttp's own handle_error does"
    )
    refused, _ = await _refuse_malformed_request()
    assert refused.output_sizes == [0], changed(
        name, f"is no longer 0 before an answer starts (saw {refused.output_sizes})", reliance
    )


# --- gateway/http/connections.py: deadlines and the connection cap -------------------------

DEADLINES = f"{CONNECTIONS} (GatewayConnection's header and body deadlines)"


class _Probe:
    """A server whose connections record the calls aiohttp makes on them."""

    def __init__(self, handler: Callable[..., Any], **settings: Any) -> None:
        self.events: list[tuple[str, Any]] = []
        self.payloads: list[Any] = []
        self.on_request: Callable[[Any], None] = lambda payload: None
        events = self.events
        probe = self

        class Connection(web.RequestHandler):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                events.append(("made", None))
                super().connection_made(transport)

            def data_received(self, data: bytes) -> None:
                events.append(("data", data))
                super().data_received(data)

            def log_access(
                self, request: web.BaseRequest, response: web.StreamResponse, time: Any
            ) -> None:
                events.append(("answered", response.status))
                super().log_access(request, response, time)

            def log_exception(self, *args: Any, **kwargs: Any) -> None:
                events.append(("exception", kwargs.get("exc_info")))

            def pause_writing(self) -> None:
                events.append(("paused", None))
                super().pause_writing()

            def resume_writing(self) -> None:
                events.append(("resumed", None))
                super().resume_writing()

        class Server(web.Server):
            def __call__(self) -> web.RequestHandler:
                return Connection(self, loop=self._loop, **self._kwargs)

            def connection_lost(
                self, handler: web.RequestHandler, exc: BaseException | None = None
            ) -> None:
                events.append(("lost", None))
                super().connection_lost(handler, exc)

        def factory(
            message: Any, payload: Any, protocol: Any, writer: Any, task: Any
        ) -> web.BaseRequest:
            events.append(("request", type(protocol).__name__))
            probe.payloads.append(payload)
            probe.on_request(payload)
            loop = asyncio.get_running_loop()
            return web.BaseRequest(message, payload, protocol, writer, task, loop)

        self.server = Server(handler, request_factory=factory, access_log=None, **settings)

    def names(self, kind: str) -> list[Any]:
        return [value for name, value in self.events if name == kind]


async def _serve_probe(probe: _Probe) -> tuple[web.ServerRunner, int]:
    runner = web.ServerRunner(probe.server)
    await runner.setup()
    _, port = await serve(runner)
    return runner, port


async def test_connection_calls_the_deadlines_hook_into() -> None:
    """connection_made, data_received (every byte), the request factory's arguments (once
    per request, as its handling begins), log_access (once per answer, with no access log
    configured) and Server.connection_lost (once per connection)."""
    probe = _Probe(ok)
    runner, port = await _serve_probe(probe)
    head = b"GET / HTTP/1.1\r\nHost: x\r\n"
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head)
        await asyncio.sleep(0.05)
        writer.write(b"\r\n")
        await reader.readuntil(b"ok")
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await reader.read()
        writer.close()
        await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()
    kinds = [name for name, _ in probe.events if name != "data"]
    expected = ["made", "request", "answered", "request", "answered", "lost"]
    assert kinds == expected, changed(
        "aiohttp.web_protocol.RequestHandler",
        f"no longer calls connection_made, the request factory, log_access and "
        f"Server.connection_lost in that order (saw {kinds})",
        DEADLINES,
    )
    assert b"".join(probe.names("data")).startswith(head + b"\r\n"), changed(
        "aiohttp.web_protocol.RequestHandler.data_received",
        "no longer sees every byte the client sends",
        DEADLINES,
    )
    assert probe.names("request") == ["Connection", "Connection"], changed(
        "the Server's request_factory",
        "is no longer called with (message, payload, protocol, writer, task)",
        DEADLINES,
    )


async def test_an_answer_not_taken_pauses_the_handler_and_request_protocol_is_it() -> None:
    """An answer the client does not read fills the transport's buffer: its protocol, the
    RequestHandler, is told (pause_writing), and told again once the client reads
    (resume_writing); `request.protocol` is that handler."""
    protocols: list[Any] = []

    async def big(request: web.BaseRequest) -> web.Response:
        protocols.append(request.protocol)
        return web.Response(body=b"x" * (8 << 20))

    probe = _Probe(big)
    runner, port = await _serve_probe(probe)
    reliance = f"{CONNECTIONS} (GatewayConnection's send deadline, hand_over_to_websocket)"
    try:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await asyncio.sleep(0.3)
        paused = probe.names("paused")
        await reader.read()
        writer.close()
    finally:
        await runner.cleanup()
    assert paused == [None], changed(
        "aiohttp.web_protocol.RequestHandler.pause_writing",
        "is no longer called when an answer fills the transport's buffer",
        reliance,
    )
    assert probe.names("resumed"), changed(
        "aiohttp.web_protocol.RequestHandler.resume_writing",
        "is no longer called once the client reads",
        reliance,
    )
    assert [type(protocol).__name__ for protocol in protocols] == ["Connection"], changed(
        "aiohttp.web_request.BaseRequest.protocol", "is no longer the RequestHandler", reliance
    )


async def test_server_call_may_return_any_asyncio_protocol() -> None:
    reliance = f"{CONNECTIONS} (GatewayServer.__call__) returns _OverCapacity past the cap"

    class Canned(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            transport.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            transport.close()

    class Refusing(web.Server):
        def __call__(self) -> Any:
            return Canned()

    answer = await answer_of(Refusing(ok), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 503"), changed(
        "aiohttp.web_server.Server.__call__",
        f"is no longer used as the loop's protocol factory as it is (got {answer[:100]!r})",
        reliance,
    )


async def test_a_payload_exception_reaches_a_pending_read_and_on_eof_fires() -> None:
    """The body deadline: `payload.set_exception` fails a read in progress; `on_eof`
    runs once the body has arrived (cancelling the deadline)."""
    seen: list[str] = []

    async def reader(request: web.BaseRequest) -> web.Response:
        try:
            await request.content.read()
        except BodyDeadlineExceeded:
            return web.Response(status=408)
        return web.Response(text="read")

    probe = _Probe(reader)

    def arm(payload: Any) -> None:
        payload.on_eof(lambda: seen.append("eof"))
        if "stall" in seen:
            asyncio.get_running_loop().call_later(
                0.1, payload.set_exception, BodyDeadlineExceeded()
            )

    probe.on_request = arm
    runner, port = await _serve_probe(probe)
    try:
        whole = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\n"
        answer = await exchange(port, whole + b"body")
        seen.append("stall")
        stalled = await exchange(port, whole + b"bo")
    finally:
        await runner.cleanup()
    assert answer.startswith(b"HTTP/1.1 200") and seen[0] == "eof", changed(
        "aiohttp.streams.StreamReader.on_eof",
        f"no longer runs its callback once the body has arrived ({seen}, {answer[:60]!r})",
        DEADLINES,
    )
    assert stalled.startswith(b"HTTP/1.1 408"), changed(
        "aiohttp.streams.StreamReader.set_exception",
        f"no longer fails a read in progress (the client got {stalled[:60]!r})",
        DEADLINES,
    )


async def test_an_unread_body_ends_quietly_on_a_timeout_and_loudly_on_a_broken_body() -> None:
    """After an answer aiohttp reads what is left of the body (its lingering read): a
    `TimeoutError` set on that body ends it at once and without a log; a body that cannot
    be decoded is reported through `log_exception`, which the gateway quiets."""
    probe = _Probe(ok, lingering_time=30)
    payloads = probe.payloads
    runner, port = await _serve_probe(probe)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
        await reader.readuntil(b"ok")
        payloads[0].set_exception(BodyDeadlineExceeded())
        closed = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        quiet = list(probe.names("exception"))
        broken = await exchange(
            port,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: 12\r\n\r\nnot gzip!!!!",
        )
    finally:
        await runner.cleanup()
    assert closed == b"" and quiet == [], changed(
        "aiohttp.web_protocol.RequestHandler.start (lingering read)",
        f"no longer ends quietly on a TimeoutError set on the body ({quiet})",
        DEADLINES,
    )
    reported = probe.names("exception")
    assert broken.startswith(b"HTTP/1.1 200") and any(
        isinstance(exc, web.RequestPayloadError) for exc in reported
    ), changed(
        "aiohttp.web_protocol.RequestHandler.log_exception",
        f"is no longer how a broken unread body is reported (saw {reported})",
        f"{CONNECTIONS} (GatewayConnection.log_exception) turns that report into a debug line",
    )


async def test_header_size_errors_carry_what_was_too_large() -> None:
    reliance = (
        "gateway/http/protocol_errors.py tells a header too large (431) from other "
        "malformed requests (400) by LineTooLong.args[1] (the limit broken: max_field_size "
        f"for a header, max_line_size for the request line) and by the message {TOO_MANY_HEADERS!r}"
    )
    refused, _ = await _refuse(
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 300 + b"\r\n\r\n",
        b"GET /" + b"u" * 300 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(10)) + b"\r\n",
        max_line_size=100,
        max_field_size=200,
        max_headers=5,
    )
    header, line, many = [exc for _, exc in refused.calls]
    assert isinstance(header, LineTooLong) and header.args[1] == 200, changed(
        "aiohttp.http_exceptions.LineTooLong", f"for a header is now {header!r}", reliance
    )
    assert isinstance(line, LineTooLong) and line.args[1] == 100, changed(
        "aiohttp.http_exceptions.LineTooLong", f"for the request line is now {line!r}", reliance
    )
    assert isinstance(many, BadHttpMessage) and many.message == TOO_MANY_HEADERS, changed(
        "aiohttp.http_exceptions.BadHttpMessage", f"for too many headers is now {many!r}", reliance
    )


# --- gateway/ws/feature.py (AgentWebSocket) ------------------------------------------------

AGENT_WEBSOCKET = (
    "gateway/ws/feature.py (AgentWebSocket) reads text frames as bytes (decode_text=False) and "
    "overrides close() to have the protocol decide the close aiohttp sends itself from "
    "receive() for a frame over max_msg_size (4001 before admission, 4400 after)"
)


async def _receive_one(aiohttp_client: Any, frame: bytes) -> tuple[list[int], list[WSMsgType]]:
    """Send `frame` to a server websocket like the gateway's; the close codes it passed to
    close() and the message types its receive() returned."""
    closes: list[int] = []
    received: list[WSMsgType] = []

    class Recording(web.WebSocketResponse[Literal[False]]):
        async def close(
            self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
        ) -> bool:
            closes.append(code)
            return await super().close(code=code, message=message, drain=drain)

    async def handler(request: web.Request) -> web.WebSocketResponse[Literal[False]]:
        ws = Recording(max_msg_size=1024, decode_text=False)
        await ws.prepare(request)
        message = await ws.receive()
        received.append(message.type)
        if message.type is WSMsgType.TEXT:
            received_data.append(message.data)
            await ws.close(code=4400)
        return ws

    received_data: list[Any] = []
    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/")
    await ws.send_frame(frame, WSMsgType.TEXT)
    await ws.receive(timeout=5)
    await ws.close()
    if received_data:
        assert received_data == [frame], changed(
            "aiohttp.web_ws.WebSocketResponse(decode_text=False)",
            f"no longer hands a text frame over as its bytes (got {received_data!r})",
            AGENT_WEBSOCKET,
        )
    return closes, received


async def test_websocket_receive_closes_a_frame_over_max_msg_size_through_close(
    aiohttp_client: Any,
) -> None:
    name = "aiohttp.web_ws.WebSocketResponse.close"
    assert keyword_only(web.WebSocketResponse.close) == {"code", "message", "drain"}, changed(
        name,
        f"changed signature to {inspect.signature(web.WebSocketResponse.close)}",
        AGENT_WEBSOCKET,
    )
    closes, received = await _receive_one(aiohttp_client, b"x" * 2048)
    assert closes[:1] == [WSCloseCode.MESSAGE_TOO_BIG], changed(
        "aiohttp.web_ws.WebSocketResponse.receive",
        f"no longer closes a frame over max_msg_size with close(code=1009) (close calls: {closes})",
        AGENT_WEBSOCKET,
    )
    assert received == [WSMsgType.ERROR], changed(
        "aiohttp.web_ws.WebSocketResponse.receive",
        f"no longer returns an ERROR message after closing 1009 (returned {received})",
        AGENT_WEBSOCKET,
    )


async def test_websocket_without_decode_text_hands_over_text_that_is_not_utf8(
    aiohttp_client: Any,
) -> None:
    """The gateway's protocol refuses text that is not UTF-8 itself (4400 after admission,
    4001 before, with an error frame): aiohttp must hand it over rather than close 1007."""
    closes, received = await _receive_one(aiohttp_client, b'{"type": "pong", "x": "\xff\xfe"}')
    assert received == [WSMsgType.TEXT] and closes == [4400], changed(
        "aiohttp.web_ws.WebSocketResponse(decode_text=False)",
        f"checks text frames itself now (receive returned {received}, close calls {closes})",
        AGENT_WEBSOCKET,
    )


# --- gateway/ws/outbox.py -------------------------------------------------------------------


async def test_frames_written_to_the_transport_never_split_aiohttp_frames(
    aiohttp_server: Any,
) -> None:
    """The gateway writes its event frames to `request.transport` itself, beside aiohttp's
    websocket writer (pings, close, error frames). That is sound only while aiohttp writes
    each frame whole, straight into that same transport, with no buffer of its own: here a
    raw frame is written at every point where aiohttp's sends yield, and a strict client
    must read every frame of both writers intact and in order."""
    reliance = (
        "gateway/ws/outbox.py writes text frames straight to request.transport and counts "
        "that transport's buffer as the session's whole backlog"
    )
    sizes = [0, 125, 126, 65_535, 65_536, 300_000]

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        transport = request.transport
        assert transport is not None
        sending = True

        async def interleave() -> None:
            index = 0
            while sending:
                transport.write(wire_text_frame(f"raw-{index}".encode()))
                index += 1
                await asyncio.sleep(0)

        raw = asyncio.create_task(interleave())
        await asyncio.sleep(0)
        for index, size in enumerate(sizes):
            await ws.send_str(f"aio-{index}:" + "x" * size)
            await asyncio.sleep(0)
            await ws.ping()
            await asyncio.sleep(0)
        sending = False
        await raw
        transport.write(wire_text_frame(b"last-1") + wire_text_frame(b"last-2"))
        await ws.send_str("done")
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    server = await aiohttp_server(app)
    received: list[str] = []
    try:
        async with websockets.connect(f"ws://127.0.0.1:{server.port}/", max_size=None) as client:
            async for message in client:
                assert isinstance(message, str)
                received.append(message)
    except websockets.exceptions.WebSocketException as exc:
        pytest.fail(
            changed(
                "aiohttp's websocket frame writer",
                f"interleaved a frame with the gateway's raw frames ({exc!r})",
                reliance,
            )
        )
    aio = [message for message in received if message.startswith("aio-")]
    raw = [message for message in received if message.startswith("raw-")]
    expected_aio = [f"aio-{index}:" + "x" * size for index, size in enumerate(sizes)]
    problem = changed(
        "aiohttp's websocket frame writer",
        "no longer writes each frame whole and at once into request.transport",
        reliance,
    )
    assert aio == expected_aio, problem
    assert len(raw) >= 2 * len(sizes), f"only {len(raw)} raw frames were interleaved"
    assert raw == [f"raw-{index}" for index in range(len(raw))], problem
    assert received[-3:] == ["last-1", "last-2", "done"], problem
