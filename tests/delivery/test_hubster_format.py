"""The pure Hubster conversion for activities no Hubster webhook produced (an SCG receipt)."""

from __future__ import annotations

from gateway.delivery.hubster_format import hubster_body

RECEIPT = {
    "id": "1795428902999-000004",
    "type": "receipt:delivered",
    "occurredAt": "2026-11-23T10:15:02.114Z",
    "receivedAt": "2026-11-23T10:15:02.999Z",
    "tenantId": "acme",
    "hubId": "sms-hub",
    "integrationId": "scg-1",
    "conversationId": "sms-+14085551212-66000",
    "channel": "SMS",
    "source": {"provider": "scg", "eventId": "kQ2bT8nV4sLm0pXc7RzY1a", "attempt": 1, "echo": False},
    "sender": None,
    "recipient": {"role": "customer", "id": None, "address": "+14085551212"},
    "message": None,
    "receipt": {"messageId": "176ySDuGoChplVgiz2lcm7", "state": "delivered"},
    "event": None,
    "data": {"message_request_id": "r-1"},
}


def test_a_receipt_becomes_a_payload_event_from_the_integration():
    body = hubster_body(RECEIPT)
    assert (body["hubId"], body["tenantId"], body["integrationId"]) == ("sms-hub", "acme", "scg-1")
    assert body["conversationProperties"] == {"profile": {}, "additional": {}}
    [converted] = body["activities"]
    assert converted["type"] == "event"
    assert converted["eventTrigger"] == "receipt:delivered"
    assert converted["eventId"] == 1795428902114
    assert converted["isEcho"] is False
    assert converted["flowProcess"] == "Default"
    assert "interactionId" not in converted
    assert converted["sender"] == {
        "integrationId": "scg-1",
        "integrationType": "System",
        "channelType": "System",
        "tokenId": None,
    }
    assert converted["recipient"]["integrationType"] == "Customer"
    assert converted["recipient"]["channelType"] == "SMS"
    assert converted["event"] == {
        "type": "payload",
        "payloadType": "receipt:delivered",
        "payload": RECEIPT,
    }
    assert "message" not in converted


def test_a_message_without_hubster_fields_gets_its_gateway_id_as_interaction():
    message = {
        **RECEIPT,
        "type": "message:customer",
        "sender": {"role": "customer", "id": None, "address": "+14085551212"},
        "recipient": {"role": "agent", "id": "a-1", "address": None},
        "message": {"type": "text", "text": "STOP"},
        "receipt": None,
    }
    [converted] = hubster_body(message)["activities"]
    assert converted["type"] == "message"
    assert converted["interactionId"] == RECEIPT["id"]
    assert converted["message"] == {"type": "text", "text": "STOP"}
    assert converted["recipient"]["channelType"] == "Direct"
    assert "event" not in converted


def test_the_event_id_falls_back_to_the_gateway_id_then_to_zero():
    unparsable = {**RECEIPT, "occurredAt": "yesterday"}
    [converted] = hubster_body(unparsable)["activities"]
    assert converted["eventId"] == 1795428902999
    for other_id in ("example-3f0c8a1e9b6d4c2a8e7f5d3c1b0a9e8d", None):
        [converted] = hubster_body({**unparsable, "id": other_id})["activities"]
        assert converted["eventId"] == 0
