"""The two normalisation gaps of the hardening review, probed against a real `python -m
gateway serve` on either engine and read back as a subscriber receives them: a `standard`
activity without `source` or `occurredAt` is completed, not refused; an SCG event of a type
the gateway does not know that names both addresses joins their conversation."""

from __future__ import annotations

import json
import time
from datetime import datetime

from inbound_support import scg_event_between

from tests.running_gateway import ThreadSink, fixture_json, running


def test_source_and_occurred_at_are_filled_and_an_unknown_scg_event_joins_its_pair(
    engine_env: dict[str, str],
) -> None:
    sink = ThreadSink()
    env = {**engine_env, "GATEWAY_ALLOW_PRIVATE_TARGETS": "1"}
    try:
        with running(env=env) as gateway:
            standard = gateway.integration("standard", "hub-std")
            scg = gateway.integration("scg", "hub-sms")
            for hub in ("hub-std", "hub-sms"):
                subscription = {"url": sink.url(), "events": ["*"], "hubIds": [hub]}
                gateway.admin("POST", "/subscribers", {"format": "standard", **subscription})

            sent_at = time.time()
            activity = {"type": "message:customer", "conversationId": "c-1", "message": {}}
            activity["message"] = {"type": "text", "text": "no source, no occurredAt"}
            assert gateway.post(standard, activity) == {"accepted": 1, "duplicates": 0}
            mo = fixture_json("scg-mo-message.json")
            call = scg_event_between(mo, "call_state_change", "voice-2")
            assert gateway.post(scg, mo) == {"accepted": 1, "duplicates": 0}
            assert gateway.post(scg, call) == {"accepted": 1, "duplicates": 0}

            sink.wait_for(3)
            events = [json.loads(item.body) for item in sink.received]
    finally:
        sink.close()
    standard_event = next(e for e in events if e["hubId"] == "hub-std")
    assert standard_event["source"]["provider"] == "standard"
    assert standard_event["source"]["eventId"]  # the signed webhook-id
    assert standard_event["occurredAt"] == standard_event["receivedAt"]
    occurred = datetime.fromisoformat(standard_event["occurredAt"].replace("Z", "+00:00"))
    assert abs(occurred.timestamp() - sent_at) < 30
    sms = [e for e in events if e["hubId"] == "hub-sms"]
    [mo_event] = [e for e in sms if e["type"] == "message:customer"]
    [call_event] = [e for e in sms if e["type"] == "event:call_state_change"]
    assert mo_event["conversationId"] is not None
    assert call_event["conversationId"] == mo_event["conversationId"]
