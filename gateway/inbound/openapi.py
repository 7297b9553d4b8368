"""`POST /webhooks/{integration_id}` in the OpenAPI document: for each integration kind, how
its provider authenticates, what it sends, and an example body.

The example bodies are the test fixtures' own payloads, copied into `examples/` (the package
carries no tests); a test keeps each copy identical to its fixture. Pure: no aiohttp.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

import orjson

from gateway.inbound.media import FORM, JSON
from gateway.reference.schemas import text_parameter

MediaObjects = dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class KindReference:
    kinds: tuple[str, ...]
    provider: str
    schemes: tuple[str, ...]
    """Security schemes (names in `SECURITY_SCHEMES`): any one of them authenticates."""
    sends: str
    examples: tuple[str, ...]
    """Files in `examples/`: `.json` bodies, or a `.form` (urlencoded) body."""


SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "hubsterSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "x-hubster-signature",
        "description": "hubster-system, hubster-direct: Base64 of the HMAC-SHA256 of the raw "
        "body, keyed with the integration's `privateSigningKey`.",
    },
    "scgBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "scg: the integration's `username` and `password`.",
    },
    "scgBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "scg: the integration's `bearerToken`.",
    },
    "standardWebhooks": {
        "type": "apiKey",
        "in": "header",
        "name": "webhook-signature",
        "description": "standard: Standard Webhooks. `webhook-signature` holds `v1,<base64 "
        "HMAC-SHA256>` (the `whsec_` secret) or `v1a,<base64 Ed25519>` (the `whpk_` "
        "key) of `{webhook-id}.{webhook-timestamp}.{body}`; the timestamp within 300 s of "
        "now. `svix-*` headers are read when `webhook-*` ones are absent.",
    },
    "twilioSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Twilio-Signature",
        "description": "twilio: Base64 HMAC-SHA1, keyed with the `authToken`, of the URL "
        "the provider called (`GATEWAY_PUBLIC_URL` + path + query when set) followed by the "
        "sorted form fields; for a JSON body, of the URL whose `bodySHA256` query "
        "parameter is the hex SHA-256 of the body.",
    },
    "telnyxSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "telnyx-signature-ed25519",
        "description": "telnyx: Base64 Ed25519 signature of `{telnyx-timestamp}|{body}`, "
        "checked with the account's `publicKey`; the timestamp within 300 s of now.",
    },
}

KINDS = (
    KindReference(
        ("hubster-system", "hubster-direct"),
        "Hubster",
        ("hubsterSignature",),
        "JSON: a System webhook (`activities`) or a Direct one (`activity`), either kind.",
        (
            "hubster-system-messages.json",
            "hubster-direct-agent-image.json",
            "hubster-direct-event-typing.json",
        ),
    ),
    KindReference(
        ("scg",),
        "Syniverse SCG",
        ("scgBasic", "scgBearer"),
        "JSON: an Event Subscription Service event (`evt-tp`, `fld-val-list`).",
        ("scg-mo-message.json", "scg-receipt-delivered.json"),
    ),
    KindReference(
        ("standard",),
        "Standard Webhooks",
        ("standardWebhooks",),
        "JSON: an activity event, or any `{type, data}` (it becomes `event:<type>`).",
        ("standard-invoice-paid.json",),
    ),
    KindReference(
        ("twilio",),
        "Twilio Messaging",
        ("twilioSignature",),
        "A form (`application/x-www-form-urlencoded`) or the same fields as flat JSON: an "
        "inbound SMS or a status callback.",
        ("twilio-inbound-sms.form", "twilio-inbound-sms.json"),
    ),
    KindReference(
        ("telnyx",),
        "Telnyx Messaging",
        ("telnyxSignature",),
        "JSON: `{data: {id, event_type, occurred_at, payload}, meta: {attempt}}`.",
        ("telnyx-message-received.json",),
    ),
)

PARAMETERS: tuple[dict[str, Any], ...] = (
    text_parameter(
        "webhook-id",
        "header",
        "standard: the message id (signed; deduplicates redeliveries).",
        required=False,
    ),
    text_parameter(
        "webhook-timestamp",
        "header",
        "standard: when it was signed, in epoch seconds (signed).",
        required=False,
    ),
    text_parameter(
        "telnyx-timestamp",
        "header",
        "telnyx: when it was signed, in epoch seconds (signed).",
        required=False,
    ),
    text_parameter(
        "bodySHA256",
        "query",
        "twilio, JSON bodies: the hex SHA-256 of the body (signed with the URL).",
        required=False,
    ),
)


def example_bytes(name: str) -> bytes:
    return (resources.files(__package__) / "examples" / name).read_bytes()


def _example(name: str) -> tuple[str, Any]:
    """An example's media type and value (a form as its fields)."""
    raw = example_bytes(name)
    if name.endswith(".form"):
        return FORM, dict(parse_qsl(raw.decode(), keep_blank_values=True))
    return JSON, orjson.loads(raw)


@cache
def request_content() -> MediaObjects:
    """The request body's media objects, with every kind's examples."""
    content: MediaObjects = {
        JSON: {"schema": {"type": "object"}, "examples": {}},
        FORM: {
            "schema": {"type": "object", "additionalProperties": {"type": "string"}},
            "examples": {},
        },
    }
    for kind in KINDS:
        for name in kind.examples:
            media_type, value = _example(name)
            stem = name.rsplit(".", 1)[0]
            summary = f"{', '.join(kind.kinds)}: {stem}"
            content[media_type]["examples"][stem] = {"summary": summary, "value": value}
    return content


def description() -> str:
    """What each kind's provider sends, as a table."""
    rows = [
        "| kind | provider | authenticated by | body |",
        "| --- | --- | --- | --- |",
    ]
    for kind in KINDS:
        kinds = ", ".join(f"`{name}`" for name in kind.kinds)
        schemes = " or ".join(f"`{name}`" for name in kind.schemes)
        rows.append(f"| {kinds} | {kind.provider} | {schemes} | {kind.sends} |")
    return "\n".join(rows)
