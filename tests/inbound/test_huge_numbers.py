"""Numbers past 64 bits and digit strings past Python's int() limit, in every position a
provider's number is read: a clear 400 naming the field (or the value kept as sent), never
a 500; and every answer is counted in gateway_webhooks_total."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from inbound_support import (
    HUBSTER_HUB,
    HUBSTER_TENANT,
    Gateway,
    GatewayFactory,
    fixture_bytes,
    hubster_headers,
    scg_headers,
    standard_headers,
    twilio_form_headers,
)

from gateway.engine import AppendResult, EventLog, NewEvent
from gateway.engine.memory import MemoryEngine
from gateway.errors import UnencodableActivity
from gateway.events.activity import KeyedActivity
from gateway.events.encode import encode

BIG = "99999999999999999999999"
LONG_DIGITS = "9" * 5000
SCG_MO: dict[str, Any] = orjson.loads(fixture_bytes("scg-mo-message.json"))
HUBSTER: dict[str, Any] = orjson.loads(fixture_bytes("hubster-system-messages.json"))
ACTIVITY = {
    "type": "message:customer",
    "occurredAt": "2026-01-02T03:04:05Z",
    "source": {"provider": "standard", "eventId": "e1"},
    "message": {"type": "text", "text": "hi"},
}


async def error_of(response: Any) -> tuple[int, str, str]:
    body = await response.json()
    return response.status, body["error"]["code"], body["error"]["message"]


async def webhook_count(gateway: Gateway, kind: str, outcome: str) -> float:
    return await gateway.metric(f'gateway_webhooks_total{{kind="{kind}",outcome="{outcome}"}}')


@pytest.mark.parametrize(
    "attempt", [BIG, LONG_DIGITS, 2**31, str(2**31)], ids=["big", "long", "2**31", "'2**31'"]
)
async def test_scg_attempt_out_of_range_is_invalid(gateway: Gateway, attempt: Any) -> None:
    integration = await gateway.create("scg", "sms-hub")
    body = orjson.dumps({**SCG_MO, "attempt": attempt})
    status, code, message = await error_of(
        await gateway.post(integration, body, scg_headers(integration))
    )
    assert (status, code) == (400, "invalid_payload")
    assert message.startswith("attempt:")
    assert await gateway.stored() == []
    assert await webhook_count(gateway, "scg", "invalid_payload") == 1


async def test_scg_largest_attempt_is_kept(gateway: Gateway) -> None:
    integration = await gateway.create("scg", "sms-hub")
    body = orjson.dumps({**SCG_MO, "attempt": str(2**31 - 1)})
    response = await gateway.post(integration, body, scg_headers(integration))
    assert response.status == 202, await response.text()
    assert (await gateway.stored())[0]["source"]["attempt"] == 2**31 - 1


@pytest.mark.parametrize("attempt", [BIG, LONG_DIGITS, 2**31], ids=["big", "long", "2**31"])
async def test_standard_activity_attempt_out_of_range_is_invalid(
    gateway: Gateway, attempt: Any
) -> None:
    integration = await gateway.create("standard")
    activity = copy.deepcopy(ACTIVITY)
    activity["source"]["attempt"] = attempt  # type: ignore[index]
    body = orjson.dumps(activity)
    status, code, message = await error_of(
        await gateway.post(integration, body, standard_headers(body, integration))
    )
    assert (status, code) == (400, "invalid_payload")
    assert message.startswith("source.attempt:")
    assert await webhook_count(gateway, "standard", "invalid_payload") == 1


@pytest.mark.parametrize("event_id", [LONG_DIGITS, BIG], ids=["long", "big"])
async def test_hubster_event_id_digit_strings_are_invalid(gateway: Gateway, event_id: str) -> None:
    integration = await gateway.create("hubster-system", HUBSTER_HUB, HUBSTER_TENANT)
    envelope = copy.deepcopy(HUBSTER)
    envelope["activities"][0]["eventId"] = event_id
    body = orjson.dumps(envelope)
    status, code, message = await error_of(
        await gateway.post(integration, body, hubster_headers(body, integration))
    )
    assert (status, code) == (400, "invalid_payload")
    assert message.startswith("activities.0.eventId:")


async def test_twilio_num_media_digit_string_is_kept_as_sent(gateway: Gateway) -> None:
    integration = await gateway.create("twilio", configuration={"authToken": "tok"})
    url = gateway.url(f"/webhooks/{integration['integrationId']}")
    fields = {"MessageSid": "SM1", "From": "+1", "To": "+2", "Body": "hi"}
    body = "&".join(f"{k}={v}" for k, v in {**fields, "NumMedia": LONG_DIGITS}.items()).encode()
    response = await gateway.post(integration, body, twilio_form_headers(url, body, "tok"))
    assert response.status == 202, await response.text()
    [stored] = await gateway.stored()
    assert "attachments" not in stored["message"]
    assert stored["data"]["NumMedia"] == LONG_DIGITS


def test_unencodable_activity_names_the_field() -> None:
    activity = {"type": "event:x", "hubId": "h", "conversationId": None, "data": {"n": 2**70}}
    with pytest.raises(UnencodableActivity, match=r"^data\.n: "):
        encode(KeyedActivity(activity, "key"))


class BrokenEventLog:
    """The real event log whose append fails with an unexpected error (a bug, not an outage)."""

    def __init__(self, inner: EventLog) -> None:
        self.inner = inner

    async def append(self, events: Sequence[NewEvent], dedup_ttl_seconds: float) -> AppendResult:
        raise RuntimeError("append broke")

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


async def test_an_unexpected_failure_is_counted_too(make_gateway: GatewayFactory) -> None:
    engine = MemoryEngine()
    engine.events = BrokenEventLog(engine.events)  # type: ignore[assignment]
    gateway = await make_gateway(engine)
    integration = await gateway.create("scg", "sms-hub")
    response = await gateway.post(integration, orjson.dumps(SCG_MO), scg_headers(integration))
    assert response.status == 500
    assert await webhook_count(gateway, "scg", "internal_server_error") == 1
