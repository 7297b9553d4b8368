"""The bench's traffic: signed 1 KB Hubster webhooks, each a new event, each carrying a marker.

The marker `bench:<seq>:<ns>:` sits in the message text, which the gateway passes through
unchanged, so any receiver (agent frame, subscriber delivery, baseline) can tell which
request a frame answers and when it was sent, with a byte search and no JSON parsing.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import orjson

from signing import hubster

BODY_BYTES = 1024
MARKER = re.compile(rb"bench:(\d+):(\d+):")
CONVERSATION_ID = "b0b0b0b0-1111-4222-8333-944455556666"


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where and how to send: the gateway's webhook route, or a baseline's plain route."""

    host: str
    port: int
    path: str
    hub_id: str
    private_key: str


def marker(seq: int, sent_ns: int) -> str:
    return f"bench:{seq}:{sent_ns}:"


class HubsterBodies:
    """Builds the bodies from a template rendered once: a format and a concatenation per
    body instead of building and encoding a dict (the generator's CPU is the budget)."""

    _PAD = "@PAD@"

    def __init__(self, hub_id: str, first_event_ms: int) -> None:
        activity = {
            "type": "message",
            "eventTrigger": "message:customer",
            "eventId": "@EID@",
            "externalId": None,
            "isEcho": False,
            "interactionId": f"bench-{first_event_ms}-@SEQ@",
            "flowProcess": "Default",
            "sender": {
                "integrationId": "11111111-2222-4333-8444-555555555555",
                "integrationType": "Customer",
                "channelType": "WebChat",
            },
            "recipient": {
                "integrationId": "99999999-8888-4777-8666-555555555555",
                "integrationType": "Agent",
                "channelType": "Direct",
            },
            "message": {"type": "text", "text": "@MARK@" + self._PAD},
        }
        body = {"hubId": hub_id, "conversationId": CONVERSATION_ID, "activity": activity}
        rendered = orjson.dumps(body).replace(b"%", b"%%")
        rendered = rendered.replace(b'"@EID@"', b"%d").replace(b"@SEQ@", b"%d")
        rendered = rendered.replace(b"@MARK@", b"bench:%d:%d:")
        self._head, self._tail = rendered.split(self._PAD.encode())
        self._first_event_ms = first_event_ms

    def body(self, seq: int, sent_ns: int) -> bytes:
        """About 1 KB; `eventId` and `interactionId` unique per `seq`; marker in the text."""
        head = self._head % (self._first_event_ms + seq, seq, seq, sent_ns)
        padding = max(0, BODY_BYTES - len(head) - len(self._tail))
        return head + b"x" * padding + self._tail


def hubster_body(seq: int, sent_ns: int, hub_id: str, first_event_ms: int) -> bytes:
    """One body, for callers that build a few (see `HubsterBodies` for many)."""
    return HubsterBodies(hub_id, first_event_ms).body(seq, sent_ns)


def signed_headers(body: bytes, private_key: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        hubster.SIGNATURE_HEADER: hubster.sign(body, private_key),
    }


def read_marker(payload: bytes) -> tuple[int, int] | None:
    """(seq, sent ns) of the first marker in a frame or body, or None."""
    found = MARKER.search(payload)
    return (int(found.group(1)), int(found.group(2))) if found else None


def now_ms() -> int:
    return time.time_ns() // 1_000_000
