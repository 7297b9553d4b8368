"""The websocket's AsyncAPI document (`docs/asyncapi.yaml`) as a validator of real frames.

The document describes the gateway: its `receive` operations name the frames a client sends,
its `send` operations the frames the gateway sends. A frame is matched to its message by its
`type` (each message's payload pins `type` with `const`) and validated against that
message's payload schema with `jsonschema`, references resolved inside the document.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
import orjson
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT_PATH = ROOT / "docs" / "asyncapi.yaml"
DOCUMENT_URI = "urn:gateway:asyncapi"
CHANNEL = "agentSession"

Direction = Literal["to_gateway", "to_client"]
_ACTION_DIRECTION: dict[str, Direction] = {"receive": "to_gateway", "send": "to_client"}


def _pointer_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


@dataclass(frozen=True, eq=False)
class AsyncApiFrames:
    document: dict[str, Any]

    @property
    def messages(self) -> dict[str, Any]:
        messages: dict[str, Any] = self.document["components"]["messages"]
        return messages

    @property
    def close_codes(self) -> set[int]:
        return {int(code) for code in self.document["channels"][CHANNEL]["x-close-codes"]}

    def message_names(self, direction: Direction) -> set[str]:
        """The messages going that way: those of the operations in that direction and the
        replies of the operations in the other (channel message -> component message)."""
        channel_messages = self.document["channels"][CHANNEL]["messages"]
        refs = []
        for operation in self.document["operations"].values():
            if _ACTION_DIRECTION[operation["action"]] == direction:
                refs += operation["messages"]
            else:
                refs += operation.get("reply", {}).get("messages", [])
        return {_pointer_name(channel_messages[_pointer_name(ref["$ref"])]["$ref"]) for ref in refs}

    def message_for(self, direction: Direction, frame_type: object) -> str | None:
        for name in self.message_names(direction):
            if self.messages[name]["payload"]["properties"]["type"]["const"] == frame_type:
                return name
        return None

    def validator(self, message: str) -> jsonschema.protocols.Validator:
        return _validator(self, message)

    def problems(self, direction: Direction, text: str | bytes) -> list[str]:
        """Why a frame (its text) does not conform to the document; empty when it does."""
        try:
            frame = orjson.loads(text)
        except orjson.JSONDecodeError:
            return [f"not JSON: {text[:200]!r}"]
        if not isinstance(frame, dict):
            return [f"not an object: {text[:200]!r}"]
        message = self.message_for(direction, frame.get("type"))
        if message is None:
            return [f"no {direction} message of type {frame.get('type')!r} in the document"]
        return [
            f"{message} frame {list(error.absolute_path)}: {error.message[:300]}"
            for error in self.validator(message).iter_errors(frame)
        ]


@cache
def _validator(frames: AsyncApiFrames, message: str) -> jsonschema.protocols.Validator:
    resource = Resource.from_contents(frames.document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
    schema = {"$ref": f"{DOCUMENT_URI}#/components/messages/{message}/payload"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


@cache
def asyncapi_frames() -> AsyncApiFrames:
    return AsyncApiFrames(yaml.safe_load(DOCUMENT_PATH.read_text()))
