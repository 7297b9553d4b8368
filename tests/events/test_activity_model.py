"""The activity shape: builder order, encoding, times, and the schema that describes it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from pydantic import ValidationError

from gateway.config import Settings
from gateway.engine.memory import MemoryEngine
from gateway.events.activity import (
    Destination,
    KeyedActivity,
    build_activity,
    dedup_key,
    party,
    source,
)
from gateway.events.encode import encode
from gateway.events.model import ActivityEvent, SubmittedActivity
from gateway.http.app import build_app
from gateway.times import canonical_time, format_ms

DESTINATION = Destination("int-1", "hub-1", None, "2026-11-23T10:00:00.000Z")
CANONICAL_ORDER = [
    "type",
    "occurredAt",
    "receivedAt",
    "tenantId",
    "hubId",
    "integrationId",
    "conversationId",
    "channel",
    "source",
    "sender",
    "recipient",
    "message",
    "receipt",
    "event",
    "data",
]


def sample() -> dict[str, Any]:
    return build_activity(
        DESTINATION,
        type="message:customer",
        occurred_at=None,
        conversation_id="c-1",
        channel="SMS",
        source=source("scg", "e-1", 2),
        sender=party("customer", address="+1"),
        message={"type": "text", "text": "héllo"},
    )


def test_builder_gives_canonical_order_and_defaults() -> None:
    activity = sample()
    assert list(activity) == CANONICAL_ORDER
    assert activity["occurredAt"] == activity["receivedAt"] == "2026-11-23T10:00:00.000Z"
    assert activity["recipient"] is None and activity["receipt"] is None and activity["data"] == {}


def test_built_activity_with_an_id_is_a_valid_activity_event() -> None:
    ActivityEvent.model_validate({"id": "0000000000001-000000", **sample()})


def test_encode_once_to_a_new_event() -> None:
    event = encode(KeyedActivity(sample(), dedup_key("int-1", "e-1")))
    assert (event.hub_id, event.conversation_id, event.type) == ("hub-1", "c-1", "message:customer")
    assert orjson.loads(event.body) == sample()
    assert event.dedup_key == '["int-1","e-1"]'


def test_dedup_keys_are_unambiguous() -> None:
    assert dedup_key("a", "b:c") != dedup_key("a:b", "c")
    assert dedup_key("i", "x", "y") != dedup_key("i", "x,y")


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1763899200123, "2025-11-23T12:00:00.123Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
    ],
)
def test_format_ms(ms: int, text: str) -> None:
    assert format_ms(ms) == text


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("2026-11-23T10:16:40.615Z", "2026-11-23T10:16:40.615Z"),
        ("2026-11-23T12:16:40.6159+02:00", "2026-11-23T10:16:40.615Z"),
        ("2026-11-23T10:16:40Z", "2026-11-23T10:16:40.000Z"),
    ],
)
def test_canonical_time(given: str, canonical: str) -> None:
    assert canonical_time(given) == canonical


@pytest.mark.parametrize(
    "bad", ["2026-11-23T10:16:40", "yesterday", "", "0001-01-01T00:00:00+05:00"]
)
def test_canonical_time_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        canonical_time(bad)


@pytest.mark.parametrize("bad_type", ["message", "*", "message:", "chat:hello", "event: x"])
def test_submitted_activity_type_must_be_in_the_vocabulary(bad_type: str) -> None:
    with pytest.raises(ValidationError) as raised:
        SubmittedActivity.model_validate(
            {
                "type": bad_type,
                "occurredAt": "2026-01-01T00:00:00Z",
                "source": {"provider": "standard", "eventId": "1"},
            }
        )
    assert raised.value.errors()[0]["loc"] == ("type",)


def test_receipt_states_are_lower_cased() -> None:
    submitted = SubmittedActivity.model_validate(
        {
            "type": "receipt:delivered",
            "occurredAt": "2026-01-01T00:00:00Z",
            "source": {"provider": "scg", "eventId": "1"},
            "receipt": {"state": "DELIVERED", "previousState": "SENT"},
        }
    )
    assert submitted.receipt is not None
    assert (submitted.receipt.state, submitted.receipt.previous_state) == ("delivered", "sent")


async def test_schema_is_served_without_auth(aiohttp_client: Any) -> None:
    client: TestClient = await aiohttp_client(
        build_app(Settings(port=0), MemoryEngine(), admin_key="k" * 32, jwt_secret="j" * 32)
    )
    response = await client.get("/schema/activity.json")
    assert response.status == 200
    schema = orjson.loads(await response.read())
    assert set(CANONICAL_ORDER) | {"id"} == set(schema["properties"])
    for member in ("message", "receipt", "event", "sender", "recipient", "id", "receivedAt"):
        assert member in schema["required"]
    assert schema["$defs"]["Party"]["properties"]["role"]["enum"] == [
        "customer",
        "agent",
        "bot",
        "system",
    ]
