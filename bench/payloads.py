"""The bench's traffic: signed webhooks, each a new event, each carrying a marker.

Two providers: Hubster Direct (`x-hubster-signature`, what the gateway is mostly fed) and
Standard Webhooks (`webhook-*` headers, what the `standardwebhooks` library verifies, so the
verify-only baseline gets byte for byte the request the gateway gets). The marker
`bench:<seq>:<ns>:` sits in the message text, which the gateway passes through unchanged, so
any receiver (agent frame, subscriber delivery, baseline) can tell which request a frame
answers and when it was sent, with a byte search and no JSON parsing.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import orjson

from signing import hubster, standard

BODY_BYTES = 1024
MARKER = re.compile(rb"bench:(\d+):(\d+):")
CONVERSATION_ID = "b0b0b0b0-1111-4222-8333-944455556666"
Provider = Literal["hubster", "standard"]


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where and how to send: the gateway's webhook route, or a baseline's plain route.
    `secret` is the Hubster private signing key or the Standard Webhooks `whsec_` secret;
    `text_bytes`, when set, is the length of the message text (marker included) instead of
    a body of `BODY_BYTES`."""

    host: str
    port: int
    path: str
    hub_id: str
    secret: str
    provider: Provider = "hubster"
    text_bytes: int | None = None


def marker(seq: int, sent_ns: int) -> str:
    return f"bench:{seq}:{sent_ns}:"


class _Template:
    """A JSON body rendered once with `%d` holes: a format and a concatenation per body
    instead of building and encoding a dict (the generator's CPU is the budget). The text
    holding the marker is padded to `text_bytes`, or the whole body to `BODY_BYTES`."""

    PAD = "@PAD@"
    MARK = "@MARK@"

    def __init__(self, body: object, holes: dict[bytes, bytes], text_bytes: int | None) -> None:
        rendered = orjson.dumps(body).replace(b"%", b"%%")
        for placeholder, hole in holes.items():
            rendered = rendered.replace(placeholder, hole)
        rendered = rendered.replace(self.MARK.encode(), b"bench:%d:%d:")
        self._head, self._tail = rendered.split(self.PAD.encode())
        self._text_bytes = text_bytes

    def render(self, values: tuple[int, ...], seq: int, sent_ns: int) -> bytes:
        head = self._head % (*values, seq, sent_ns)
        if self._text_bytes is None:
            padding = BODY_BYTES - len(head) - len(self._tail)
        else:
            padding = self._text_bytes - len(marker(seq, sent_ns))
        return head + b"x" * max(0, padding) + self._tail


class HubsterBodies:
    """Hubster Direct bodies; `eventId` and `interactionId` unique per `seq`."""

    def __init__(self, hub_id: str, first_event_ms: int, text_bytes: int | None = None) -> None:
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
            "message": {"type": "text", "text": _Template.MARK + _Template.PAD},
        }
        body = {"hubId": hub_id, "conversationId": CONVERSATION_ID, "activity": activity}
        holes = {b'"@EID@"': b"%d", b"@SEQ@": b"%d"}
        self._template = _Template(body, holes, text_bytes)
        self._first_event_ms = first_event_ms

    def body(self, seq: int, sent_ns: int) -> bytes:
        return self._template.render((self._first_event_ms + seq, seq), seq, sent_ns)


class StandardBodies:
    """Standard Webhooks `{type, timestamp, data}` bodies (the gateway stores each as an
    `event:message.created` activity); the webhook id is the sender's, in the headers."""

    def __init__(self, first_event_ms: int, text_bytes: int | None = None) -> None:
        body = {
            "type": "message.created",
            "timestamp": _rfc3339(first_event_ms),
            "data": {
                "conversationId": CONVERSATION_ID,
                "message": {"type": "text", "text": _Template.MARK + _Template.PAD},
            },
        }
        self._template = _Template(body, {}, text_bytes)

    def body(self, seq: int, sent_ns: int) -> bytes:
        return self._template.render((), seq, sent_ns)


class SignedWebhooks:
    """Signed requests' provider-specific header lines and body, for the wire client."""

    def __init__(self, target: WebhookTarget, first_event_ms: int) -> None:
        self._target = target
        self._first_event_ms = first_event_ms
        self._hubster = HubsterBodies(target.hub_id, first_event_ms, target.text_bytes)
        self._standard = StandardBodies(first_event_ms, target.text_bytes)

    def signed(self, seq: int, sent_ns: int) -> tuple[str, bytes]:
        """(header lines, each ending CRLF; body)."""
        if self._target.provider == "hubster":
            body = self._hubster.body(seq, sent_ns)
            signature = hubster.sign(body, self._target.secret)
            return f"{hubster.SIGNATURE_HEADER}: {signature}\r\n", body
        body = self._standard.body(seq, sent_ns)
        message_id, timestamp = f"msg_bench_{self._first_event_ms}_{seq}", int(time.time())
        signature = standard.sign(message_id, timestamp, body, [self._target.secret])
        lines = (
            f"webhook-id: {message_id}\r\nwebhook-timestamp: {timestamp}\r\n"
            f"webhook-signature: {signature}\r\n"
        )
        return lines, body


def _rfc3339(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def hubster_body(seq: int, sent_ns: int, hub_id: str, first_event_ms: int) -> bytes:
    """One body, for callers that build a few (see `HubsterBodies` for many)."""
    return HubsterBodies(hub_id, first_event_ms).body(seq, sent_ns)


def read_marker(payload: bytes) -> tuple[int, int] | None:
    """(seq, sent ns) of the first marker in a frame or body, or None."""
    found = MARKER.search(payload)
    return (int(found.group(1)), int(found.group(2))) if found else None


def now_ms() -> int:
    return time.time_ns() // 1_000_000
