"""`python -m gateway tail --token T`: print an agent's live events, one line each
(`id type conversationId text-or-state`, or `--json`: each event as one JSON line), through
the agent websocket like any dashboard, with the `websockets` client library. `--token -`
reads the token from stdin, and without `--token` it comes from `GATEWAY_TOKEN`: either
keeps it out of the process list.

After a drop it reconnects (backing off up to 10 s) and resumes after the last event it
printed, so no event is missing or printed twice; if the gateway no longer holds that far
back it says so on stderr. Notes go to stderr, events to stdout. A token the gateway
refuses, or an upgrade refused with a 4xx status (a wrong URL), ends it with exit status 2;
`--count N` ends it after N events.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from typing import Any

from gateway.commands import CommandError
from gateway.commands.gateway_http import gateway_url
from gateway.config import load_settings

INITIAL_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 10.0
MAX_FRAME_BYTES = 8 * 1024 * 1024
FINAL_CLOSES = {
    4001: "the gateway refused the token (invalid or expired)",
    4003: "the token grants no hub",
    4400: "the gateway refused a frame",
}
TEXT_MAX_CHARS = 200
RETRIED_REFUSALS = frozenset({408, 429})
"""The 4xx answers to the upgrade that may pass (timeout, rate limit); any other 4xx (a
wrong host or path: 404, a proxy's 401 or 403) will not, so retrying it is pointless."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "tail",
        help="print an agent's live events",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--token",
        help="the agent's JWT, or - to read it from stdin (default: $GATEWAY_TOKEN; either "
        "keeps it out of the process list)",
    )
    parser.add_argument(
        "--url", help="the gateway, or its ws:// websocket URL (default: from the configuration)"
    )
    parser.add_argument(
        "--events",
        action="append",
        help="only these types: an exact type, a family (message, receipt, event, consent) "
        "or *; repeat or separate with commas",
    )
    parser.add_argument("--since", metavar="ID", help="first replay the events after this id")
    parser.add_argument("--json", action="store_true", help="print each event as JSON")
    parser.add_argument("--count", type=int, help="exit after this many events")
    parser.add_argument("--config", help="TOML file (default: $GATEWAY_CONFIG)")
    parser.set_defaults(run=run)


def websocket_url(url: str) -> str:
    """`http(s)://host[/base]` of the gateway as its `ws(s)://host[/base]/ws`."""
    scheme, _, rest = url.partition("://")
    return ("wss" if scheme == "https" else "ws") + "://" + rest.rstrip("/") + "/ws"


def event_line(event: dict[str, Any]) -> str:
    """`id type conversationId text-or-state`, on one line whatever the text holds."""
    detail = ""
    if isinstance(event.get("message"), dict):
        message = event["message"]
        detail = message.get("text") or f"[{message.get('type')}]"
    elif isinstance(event.get("receipt"), dict):
        receipt = event["receipt"]
        detail = f"{receipt.get('state')} {receipt.get('messageId') or ''}".strip()
    elif isinstance(event.get("event"), dict):
        detail = str(event["event"].get("type", ""))
    elif isinstance(event.get("data"), dict) and "keyword" in event["data"]:
        detail = str(event["data"]["keyword"])
    text = " ".join(str(detail).split())[:TEXT_MAX_CHARS]
    return f"{event.get('id')} {event.get('type')} {event.get('conversationId') or '-'} {text}"


class ReaderGone(Exception):
    """stdout's reader went away (`tail | head -1`): the end, not a network failure to retry
    (a `BrokenPipeError` is an `OSError`, which the reconnection loop would catch)."""


def _note(text: str) -> None:
    print(f"tail: {text}", file=sys.stderr, flush=True)


def agent_token(given: str | None) -> str:
    """The token from `--token`, stdin (`--token -`) or `GATEWAY_TOKEN`."""
    if given == "-":
        token = sys.stdin.readline()
    else:
        token = given if given is not None else os.environ.get("GATEWAY_TOKEN", "")
    token = token.strip()
    if not token:
        raise CommandError("no token: give --token JWT, --token - (stdin) or GATEWAY_TOKEN")
    return token


class Tail:
    def __init__(self, args: argparse.Namespace, url: str, token: str) -> None:
        self.url = url
        self.token = token
        filters = [part.strip() for item in args.events or [] for part in item.split(",")]
        self.events = [part for part in filters if part]
        self.as_json: bool = args.json
        self.count: int | None = args.count
        self.last_event_id: str | None = args.since
        self.live_from: str | None = None
        self.printed = 0
        self.last_error: str | None = None

    def auth_frame(self) -> str:
        frame: dict[str, Any] = {"type": "auth", "token": self.token}
        if self.events:
            frame["events"] = self.events
        if self.last_event_id:
            frame["lastEventId"] = self.last_event_id
        return json.dumps(frame)

    async def run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import (
            ConnectionClosed,
            InvalidHandshake,
            InvalidStatus,
            InvalidURI,
        )

        delay = INITIAL_BACKOFF_SECONDS
        while True:
            code: int | None = None
            try:
                async with connect(
                    self.url, compression=None, max_size=MAX_FRAME_BYTES, open_timeout=10
                ) as ws:
                    await ws.send(self.auth_frame())
                    async for raw in ws:
                        frame = json.loads(raw)
                        if frame.get("type") == "ready":
                            delay = INITIAL_BACKOFF_SECONDS
                        if await self._handle(ws, frame):
                            return
                code = ws.close_code
                reason = f"closed {code}"
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                reason = f"closed {code}" if code else "connection lost"
            except InvalidURI as exc:
                raise CommandError(f"{self.url} is not a websocket URL: {exc}") from None
            except InvalidStatus as exc:
                status = exc.response.status_code
                if 400 <= status < 500 and status not in RETRIED_REFUSALS:
                    raise CommandError(f"{self.url} refused the upgrade: HTTP {status}") from None
                reason = str(exc)
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                reason = str(exc) or type(exc).__name__
            if code in FINAL_CLOSES:
                detail = f": {self.last_error}" if self.last_error else ""
                raise CommandError(f"{FINAL_CLOSES[code]} ({code}){detail}")
            _note(f"disconnected ({reason}); reconnecting in {delay:.1f}s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    async def _handle(self, ws: Any, frame: dict[str, Any]) -> bool:
        """Act on one frame; True once `--count` events were printed."""
        kind = frame.get("type")
        if kind == "event":
            return self._print(frame["event"])
        if kind == "ping":
            await ws.send('{"type":"pong"}')
        elif kind == "ready":
            hubs = ", ".join(frame.get("hubIds", []))
            _note(f"connected as {frame.get('agentId')} to {hubs}")
            self.live_from = frame.get("lastEventId")
            if self.last_event_id is None:  # nothing to replay: resume from where it went live
                self.last_event_id = self.live_from
        elif kind == "recovered" and not frame.get("recovered"):
            _note("history not recovered: events from before this reconnection may be missing")
            self.last_event_id = self.live_from or self.last_event_id
        elif kind == "error":
            error = frame.get("error") or {}
            self.last_error = f"{error.get('code')}: {error.get('message')}"
            _note(self.last_error)
        return False

    def _print(self, event: dict[str, Any]) -> bool:
        event_id = event.get("id")
        if not isinstance(event_id, str):
            return False
        if self.last_event_id is not None and event_id <= self.last_event_id:
            return False  # already printed before a reconnection
        self.last_event_id = event_id
        line = json.dumps(event, ensure_ascii=False) if self.as_json else event_line(event)
        try:
            print(line, flush=True)
        except BrokenPipeError:
            raise ReaderGone from None
        self.printed += 1
        return self.count is not None and self.printed >= self.count


async def _until_signalled(tail: Tail) -> None:
    task = asyncio.ensure_future(tail.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def run(args: argparse.Namespace) -> int:
    if args.count is not None and args.count < 1:
        raise CommandError("--count must be at least 1")
    settings = load_settings(args.config)
    token = agent_token(args.token)
    if args.url and args.url.startswith(("ws://", "wss://")):
        url = args.url  # the `websocketUrl` an agent was handed
    else:
        url = websocket_url(gateway_url(args.url, settings))
    try:
        asyncio.run(_until_signalled(Tail(args, url, token)))
    except ReaderGone:
        raise BrokenPipeError from None  # ended quietly, as for every command (gateway/cli.py)
    return 0
