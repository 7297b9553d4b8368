"""Recording every frame the websocket tests send and receive, to hold the AsyncAPI document
(`docs/asyncapi.yaml`) to what real sessions do.

`make_gateway`'s clients open websockets of a recording class: each text frame sent and
received, and each close code the gateway sent, lands in the test's `FrameLog`. When the
test ends, every frame the gateway sent must validate against the document's messages and
every close code must be one it lists. Frames a test sends are not checked there (tests send
malformed frames on purpose); `test_ws_asyncapi.py` runs a session whose every frame, both
ways, is checked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from asyncapi_frames import Direction, asyncapi_frames

MAX_CHECKED_PER_TYPE = 200
"""Validating is ~0.1 ms a frame; tests that stream thousands of events check the first
few hundred of each type (all of them look alike)."""


@dataclass(frozen=True)
class RecordedFrame:
    direction: Direction
    text: str


@dataclass
class FrameLog:
    frames: list[RecordedFrame] = field(default_factory=list)
    close_codes: list[int] = field(default_factory=list)

    def frames_to(self, direction: Direction) -> list[str]:
        return [frame.text for frame in self.frames if frame.direction == direction]

    def problems(self, direction: Direction) -> list[str]:
        """Why recorded frames going that way, or close codes, break the document."""
        document = asyncapi_frames()
        problems = []
        checked: Counter[str] = Counter()
        for text in dict.fromkeys(self.frames_to(direction)):
            kind = _frame_type(text)
            checked[kind] += 1
            if checked[kind] <= MAX_CHECKED_PER_TYPE:
                problems += document.problems(direction, text)
        undocumented = set(self.close_codes) - document.close_codes
        problems += [f"close code {code} is not in x-close-codes" for code in undocumented]
        return problems


def _frame_type(text: str) -> str:
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return ""
    return str(frame.get("type")) if isinstance(frame, dict) else ""


def recording_websocket(log: FrameLog) -> type[aiohttp.ClientWebSocketResponse]:
    """A client websocket class writing to `log` (pass as `ws_response_class`)."""

    class RecordingWebSocket(aiohttp.ClientWebSocketResponse):
        async def send_frame(
            self, message: bytes, opcode: aiohttp.WSMsgType, compress: int | None = None
        ) -> None:
            if opcode is aiohttp.WSMsgType.TEXT:
                log.frames.append(RecordedFrame("to_gateway", message.decode(errors="replace")))
            await super().send_frame(message, opcode, compress)

        async def send_str(self, data: str, compress: int | None = None) -> None:
            log.frames.append(RecordedFrame("to_gateway", data))
            await super().send_str(data, compress)

        async def receive(self, timeout: float | None = None) -> Any:
            message = await super().receive(timeout)
            if message.type is aiohttp.WSMsgType.TEXT:
                log.frames.append(RecordedFrame("to_client", message.data))
            elif message.type is aiohttp.WSMsgType.CLOSE:
                log.close_codes.append(int(message.data))
            return message

    return RecordingWebSocket
