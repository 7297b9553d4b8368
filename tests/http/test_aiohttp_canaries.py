"""Canaries for the aiohttp internals the gateway relies on on purpose.

aiohttp is pinned below its next major (pyproject), but a minor release may still rename,
re-sign or rewire a private name. Each test here checks one such name (existence, parameter
names, and the behaviour the gateway counts on, where that is cheap) against a real aiohttp
server, and fails with a message that says what changed and what in the gateway depends on it,
so an upgrade breaks here, loudly, instead of somewhere subtle.

The names, and who uses them:
- `BaseRunner._make_server`, `Server._loop`, `Server._kwargs`, the `Server` constructor's
  parameters, `Server.__call__`, `RequestHandler(manager, loop=..., **kwargs)`,
  `RequestHandler.handle_error` and `request.writer.output_size`:
  gateway/http/protocol_errors.py (malformed HTTP answered in the gateway's error format).
- `WebSocketResponse.close` called by aiohttp itself from `receive` on a bad frame:
  gateway/ws/feature.py (`AgentWebSocket` has the protocol decide those closes: 4001 before
  admission).
- Frames written straight to `request.transport` beside aiohttp's websocket frame writer:
  gateway/ws/outbox.py (one encoded event framed without re-encoding).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import websockets
from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.web_runner import BaseRunner

from gateway.ws.outbox import write_text_frame, write_text_frames

PROTOCOL_ERRORS = "gateway/http/protocol_errors.py"
REBUILD = (
    f"{PROTOCOL_ERRORS} (GatewayRunner._make_server) rebuilds the runner's Server as "
    "_ContractServer(made.request_handler, request_factory=..., handler_cancellation=..., "
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


# --- gateway/http/protocol_errors.py -------------------------------------------------------


async def test_base_runner_make_server() -> None:
    name = "aiohttp.web_runner.BaseRunner._make_server"
    reliance = (
        f"{PROTOCOL_ERRORS} (GatewayRunner) overrides it to serve every connection with a "
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
        f"{PROTOCOL_ERRORS} (_ContractServer) overrides it to build each connection's "
        "_ContractRequestHandler"
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

    runner = web.ServerRunner(CountingServer(ok))
    await runner.setup()
    try:
        _, port = await serve(runner)
        answer = await exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    finally:
        await runner.cleanup()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert len(made) == 1, changed(
        name, "is no longer called once per connection to make its protocol", reliance
    )


async def test_request_handler_constructor(app_runner: web.AppRunner) -> None:
    name = "aiohttp.web_protocol.RequestHandler.__init__"
    reliance = (
        f"{PROTOCOL_ERRORS} (_ContractServer.__call__) constructs "
        "_ContractRequestHandler(self, loop=self._loop, **self._kwargs)"
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
    refused = set(made_server(app_runner)._kwargs) - set(parameters)
    assert not refused, changed(
        name, f"no longer accepts the runner's settings {sorted(refused)}", reliance
    )


class _Refused:
    """What `handle_error` saw for a request aiohttp refused before routing."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, BaseException | None]] = []
        self.output_sizes: list[object] = []


async def _refuse_malformed_request() -> tuple[_Refused, bytes]:
    """Send bytes that are not HTTP to a server whose handler records `handle_error`."""
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

    runner = web.ServerRunner(RecordingServer(ok))
    await runner.setup()
    try:
        _, port = await serve(runner)
        answer = await exchange(port, b"GARBAGE\r\n\r\n")
    finally:
        await runner.cleanup()
    return refused, answer


async def test_request_handler_handle_error() -> None:
    name = "aiohttp.web_protocol.RequestHandler.handle_error"
    reliance = (
        f"{PROTOCOL_ERRORS} (_ContractRequestHandler) overrides it to answer requests refused "
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
        f"{PROTOCOL_ERRORS} (_ContractRequestHandler.handle_error) reads it to tell whether an "
        "answer has already started, as aiohttp's own handle_error does"
    )
    refused, _ = await _refuse_malformed_request()
    assert refused.output_sizes == [0], changed(
        name, f"is no longer 0 before an answer starts (saw {refused.output_sizes})", reliance
    )


# --- gateway/ws/feature.py (AgentWebSocket) ------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code"),
    [(b"\xff\xfe", WSCloseCode.INVALID_TEXT), (b"x" * 2048, WSCloseCode.MESSAGE_TOO_BIG)],
    ids=["invalid-utf8-1007", "too-big-1009"],
)
async def test_websocket_receive_closes_bad_frames_through_close(
    aiohttp_client: Any, frame: bytes, code: WSCloseCode
) -> None:
    name = "aiohttp.web_ws.WebSocketResponse.close"
    reliance = (
        "gateway/ws/feature.py (AgentWebSocket) overrides close() to have the protocol decide "
        "the close aiohttp sends itself from receive() for a bad frame (1007, 1009): 4001 "
        "before admission"
    )
    assert keyword_only(web.WebSocketResponse.close) == {"code", "message", "drain"}, changed(
        name, f"changed signature to {inspect.signature(web.WebSocketResponse.close)}", reliance
    )
    closes: list[int] = []

    class Recording(web.WebSocketResponse):
        async def close(
            self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
        ) -> bool:
            closes.append(code)
            return await super().close(code=code, message=message, drain=drain)

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = Recording(max_msg_size=1024)
        await ws.prepare(request)
        await ws.receive()
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/")
    await ws.send_frame(frame, WSMsgType.TEXT)
    await ws.receive(timeout=5)
    await ws.close()
    assert closes[:1] == [code], changed(
        "aiohttp.web_ws.WebSocketResponse.receive",
        f"no longer closes a bad frame with close(code={int(code)}) (close calls: {closes})",
        reliance,
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
                write_text_frame(transport, f"raw-{index}".encode())
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
        write_text_frames(transport, [b"last-1", b"last-2"])
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
