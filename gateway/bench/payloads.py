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


def hubster_body(seq: int, sent_ns: int, hub_id: str, first_event_ms: int) -> bytes:
    """A Hubster Direct webhook of about 1 KB whose eventId and interactionId are unique."""
    activity = {
        "type": "message",
        "eventTrigger": "message:customer",
        "eventId": first_event_ms + seq,
        "externalId": None,
        "isEcho": False,
        "interactionId": f"bench-{first_event_ms}-{seq}",
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
        "message": {"type": "text", "text": marker(seq, sent_ns)},
    }
    body = {"hubId": hub_id, "conversationId": CONVERSATION_ID, "activity": activity}
    padding = max(0, BODY_BYTES - len(orjson.dumps(body)))
    activity["message"] = {"type": "text", "text": marker(seq, sent_ns) + "x" * padding}
    return orjson.dumps(body)


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
