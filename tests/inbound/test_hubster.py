"""Hubster: every message and event type, channel and role mapping, dedup, rotation."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from inbound_support import HUBSTER_HUB, HUBSTER_TENANT, Gateway, hubster_headers

MESSAGES: list[dict[str, Any]] = [
    {"type": "text", "text": "Привет 👋 ::not a command", "items": [], "actions": []},
    {
        "type": "contact",
        "title": "Ana",
        "properties": [{"key": "phone", "value": "+1", "type": "tel"}],
    },
    {"type": "card", "title": "T", "subtitle": "S", "content": "C", "url": "https://x.test"},
    {"type": "location", "latitude": 38.7, "longitude": -9.1},
    {"type": "location", "address": "Rua Augusta 1, Lisboa"},
    {
        "type": "attachment",
        "label": "invoice.pdf",
        "mimeType": "application/pdf",
        "url": "https://x.test/i",
        "size": 1234,
    },
    {"type": "video", "url": "https://x.test/v.mp4", "label": "v", "mimeType": "video/mp4"},
    {"type": "audio", "url": "https://x.test/a.mp3", "label": "a", "mimeType": "audio/mpeg"},
    {"type": "youtube", "url": "https://youtu.be/x"},
    {"type": "vimeo", "url": "https://vimeo.com/1"},
    {"type": "image", "url": "https://x.test/i.png", "alt": "alt", "title": "title"},
    {
        "type": "list",
        "items": [
            {"title": "a", "actions": [{"type": "link", "title": "go", "url": "https://x.test"}]}
        ],
    },
    {
        "type": "carousel",
        "items": [{"title": "b", "actions": [{"type": "postback", "title": "p", "payload": "x"}]}],
    },
    {"type": "command", "text": "::close"},
]
EVENTS: list[dict[str, Any]] = [
    {"type": "seen"},
    {"type": "typing_on"},
    {"type": "typing_off"},
    {"type": "payload", "payloadType": "order", "payload": {"id": 7}},
]
CUSTOMER = {"integrationId": "cust", "integrationType": "Customer", "channelType": "WebChat"}
AGENT = {"integrationId": "agent", "integrationType": "Agent", "channelType": "Direct"}


def activity(event_id: int, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "message",
        "eventTrigger": "message",
        "eventId": event_id,
        "isEcho": False,
        "sender": CUSTOMER,
        "recipient": AGENT,
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def system_body(*activities: dict[str, Any], **envelope: Any) -> bytes:
    body = {
        "hubId": HUBSTER_HUB,
        "tenantId": HUBSTER_TENANT,
        "integrationId": "sys",
        "conversationId": "conv-1",
        "activities": list(activities),
    }
    body.update(envelope)
    return orjson.dumps({key: value for key, value in body.items() if value is not None})


async def post(gateway: Gateway, integration: dict[str, Any], body: bytes) -> tuple[int, Any]:
    response = await gateway.post(integration, body, hubster_headers(body, integration))
    return response.status, await response.json()


@pytest.fixture
async def system(gateway: Gateway) -> dict[str, Any]:
    return await gateway.create("hubster-system", HUBSTER_HUB, HUBSTER_TENANT)


async def test_every_message_type_is_preserved(gateway: Gateway, system: dict[str, Any]) -> None:
    items = [
        activity(1_700_000_000_000 + i, interactionId=f"i{i}", message=m)
        for i, m in enumerate(MESSAGES)
    ]
    status, answer = await post(gateway, system, system_body(*items))
    assert (status, answer) == (202, {"accepted": len(MESSAGES), "duplicates": 0})
    stored = await gateway.stored()
    assert [item["message"] for item in stored] == MESSAGES
    assert {item["type"] for item in stored} == {"message:customer"}


async def test_every_event_type(gateway: Gateway, system: dict[str, Any]) -> None:
    items = [activity(1_700_000_000_000 + i, type="event", event=e) for i, e in enumerate(EVENTS)]
    status, _ = await post(gateway, system, system_body(*items))
    assert status == 202
    stored = await gateway.stored()
    assert [item["type"] for item in stored] == [f"event:{e['type']}" for e in EVENTS]
    assert [item["event"] for item in stored] == EVENTS
    assert all(item["message"] is None and item["receipt"] is None for item in stored)


@pytest.mark.parametrize(
    ("number", "name"),
    [
        (1, "Direct"),
        (2, "Bot"),
        (3, "System"),
        (101, "Messenger"),
        (102, "TwilioSMS"),
        (103, "Line"),
        (104, "Telegram"),
        (105, "Kik"),
        (106, "WebChat"),
        (1001, "Slack"),
    ],
)
async def test_numeric_channel_types(
    gateway: Gateway, system: dict[str, Any], number: int, name: str
) -> None:
    sender = CUSTOMER | {"channelType": number}
    item = activity(1_700_000_000_000, sender=sender, message={"type": "text", "text": "x"})
    await post(gateway, system, system_body(item))
    [stored] = await gateway.stored()
    assert stored["channel"] == name


@pytest.mark.parametrize(
    ("integration_type", "role"),
    [
        ("Customer", "customer"),
        ("Agent", "agent"),
        ("Bot", "bot"),
        ("System", "system"),
        ("Hubster", "system"),
    ],
)
async def test_roles_and_types_follow_the_sender(
    gateway: Gateway, system: dict[str, Any], integration_type: str, role: str
) -> None:
    sender = {"integrationId": "s", "integrationType": integration_type, "channelType": 3}
    recipient = CUSTOMER | {"channelType": 106}
    item = activity(
        1_700_000_000_000, sender=sender, recipient=recipient, message={"type": "text", "text": "x"}
    )
    await post(gateway, system, system_body(item))
    [stored] = await gateway.stored()
    assert stored["type"] == f"message:{role}"
    assert stored["sender"]["role"] == role
    assert stored["channel"] == ("WebChat" if role != "customer" else "System")


async def test_fields_without_a_home_are_kept_in_data(
    gateway: Gateway, system: dict[str, Any]
) -> None:
    item = activity(
        1_700_000_000_000,
        interactionId="int-1",
        externalId="ext-1",
        flowProcess="LogOnly",
        sender=CUSTOMER | {"tokenId": "tok"},
        message={"type": "text", "text": "x"},
        surprise={"new": True},
    )
    await post(gateway, system, system_body(item, conversationProperties={"profile": {"a": 1}}))
    [stored] = await gateway.stored()
    assert stored["data"] == {
        "integrationId": "sys",
        "conversationProperties": {"profile": {"a": 1}},
        "eventTrigger": "message",
        "interactionId": "int-1",
        "externalId": "ext-1",
        "flowProcess": "LogOnly",
        "surprise": {"new": True},
        "senderTokenId": "tok",
    }


async def test_redelivery_is_counted_and_stored_once(
    gateway: Gateway, system: dict[str, Any]
) -> None:
    first = activity(1_700_000_000_001, interactionId="a", message={"type": "text", "text": "1"})
    second = activity(1_700_000_000_002, type="event", event={"type": "seen"})
    assert await post(gateway, system, system_body(first)) == (
        202,
        {"accepted": 1, "duplicates": 0},
    )
    assert await post(gateway, system, system_body(first, second)) == (
        202,
        {"accepted": 1, "duplicates": 1},
    )
    assert await post(gateway, system, system_body(first, second)) == (
        202,
        {"accepted": 0, "duplicates": 2},
    )
    assert len(await gateway.stored()) == 2
    assert await gateway.metric("gateway_duplicates_total") == 3
    assert await gateway.metric("gateway_events_stored_total") == 2
    assert (
        await gateway.metric('gateway_webhooks_total{kind="hubster-system",outcome="duplicate"}')
        == 1
    )


async def test_dedup_without_interaction_id_uses_event_type_and_sender(
    gateway: Gateway, system: dict[str, Any]
) -> None:
    seen = activity(1_700_000_000_000, type="event", event={"type": "seen"})
    typing = activity(1_700_000_000_000, type="event", event={"type": "typing_on"})
    by_agent = seen | {"sender": AGENT, "recipient": CUSTOMER}
    answer = await post(gateway, system, system_body(seen, typing, by_agent, seen))
    assert answer == (202, {"accepted": 3, "duplicates": 1})


async def test_same_event_on_two_integrations_is_stored_twice(gateway: Gateway) -> None:
    one = await gateway.create("hubster-system", HUBSTER_HUB, HUBSTER_TENANT)
    two = await gateway.create("hubster-direct", HUBSTER_HUB, HUBSTER_TENANT)
    body = system_body(activity(1_700_000_000_000, message={"type": "text", "text": "x"}))
    assert (await post(gateway, one, body))[1]["accepted"] == 1
    assert (await post(gateway, two, body))[1]["accepted"] == 1


async def test_direct_body_with_single_activity(gateway: Gateway) -> None:
    direct = await gateway.create("hubster-direct", HUBSTER_HUB, HUBSTER_TENANT)
    body = orjson.dumps(
        {
            "hubId": HUBSTER_HUB,
            "conversationId": "c",
            "activity": activity(5, event={"type": "seen"}, type="event"),
        }
    )
    assert await post(gateway, direct, body) == (202, {"accepted": 1, "duplicates": 0})
    [stored] = await gateway.stored()
    assert stored["occurredAt"] == "1970-01-01T00:00:00.005Z"
    assert stored["tenantId"] == HUBSTER_TENANT


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (
            activity(1, message={"type": "text", "text": "x"}, event={"type": "seen"}),
            "activities.0",
        ),
        (activity(1), "activities.0"),
        (activity(1, eventId="soon", message={"type": "text"}), "activities.0.eventId"),
        (activity(1, eventId=True, message={"type": "text"}), "activities.0.eventId"),
        (
            activity(1, sender=CUSTOMER | {"integrationType": "Robot"}, message={"type": "text"}),
            "activities.0.sender.integrationType",
        ),
        (activity(1, message={"text": "no type"}), "activities.0.message.type"),
        (activity(1, type="event", event={"type": " padded"}), "activities.0.event.type"),
        (activity(1, type="message", event={"type": "seen"}), "activities.0.type"),
        (
            activity(1, sender=CUSTOMER | {"channelType": [1]}, message={"type": "text"}),
            "activities.0.sender.channelType",
        ),
    ],
)
async def test_wrong_shapes_name_the_field(
    gateway: Gateway, system: dict[str, Any], item: dict[str, Any], field: str
) -> None:
    status, answer = await post(gateway, system, system_body(item))
    assert status == 400
    assert answer["error"]["code"] == "invalid_payload"
    assert answer["error"]["message"].startswith(field)
    assert await gateway.stored() == []


async def test_one_bad_activity_rejects_the_whole_body(
    gateway: Gateway, system: dict[str, Any]
) -> None:
    good = activity(1, message={"type": "text", "text": "x"})
    status, _ = await post(gateway, system, system_body(good, activity(2)))
    assert status == 400
    assert await gateway.stored() == []


@pytest.mark.parametrize(
    ("envelope", "field"),
    [({"hubId": "another-hub"}, "hubId"), ({"tenantId": "another-tenant"}, "tenantId")],
)
async def test_body_naming_another_hub_or_tenant(
    gateway: Gateway, system: dict[str, Any], envelope: dict[str, str], field: str
) -> None:
    status, answer = await post(
        gateway, system, system_body(activity(1, event={"type": "seen"}, type="event"), **envelope)
    )
    assert status == 400
    assert answer["error"]["message"].startswith(field)


async def test_body_naming_no_hub_gets_the_integrations(
    gateway: Gateway, system: dict[str, Any]
) -> None:
    body = system_body(activity(1, event={"type": "seen"}, type="event"), hubId=None, tenantId=None)
    assert (await post(gateway, system, body))[0] == 202
    [stored] = await gateway.stored()
    assert (stored["hubId"], stored["tenantId"]) == (HUBSTER_HUB, HUBSTER_TENANT)
