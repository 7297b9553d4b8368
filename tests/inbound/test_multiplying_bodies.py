"""One signed request must not multiply into unbounded stored data, against a real
`python -m gateway serve`: a Hubster body's `conversationProperties` goes into every
activity it lists, so a 168 KiB body of 400 activities sharing a 100 KB properties object
once became 400 events and 75 MiB. The activities are counted before any is normalised
(`GATEWAY_MAX_ACTIVITIES_PER_WEBHOOK`), and the encoded events' bytes while encoding
(`GATEWAY_MAX_NORMALISED_BYTES`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import signing
from tests.conftest import GatewayProcess, start_gateway
from tests.http.hostile_probes import ADMIN_KEY, admin, metric, post

HUB = "3bc1e69f-c520-446f-ab2c-01751fd66a31"
STORED = "gateway_events_stored_total"


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayProcess]:
    process = start_gateway(env={"GATEWAY_ADMIN_KEY": ADMIN_KEY})
    yield process
    assert process.terminate() == 0


@pytest.fixture(scope="module")
def hubster(gateway: GatewayProcess) -> dict[str, Any]:
    body = {"name": "hub", "kind": "hubster-system", "hubId": HUB}
    return dict(admin(gateway, "POST", "/integrations", body))


def rss_bytes(gateway: GatewayProcess) -> int:
    for line in Path(f"/proc/{gateway.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def body_of(count: int, properties_bytes: int, conversation: str) -> bytes:
    activities = [
        {
            "type": "message",
            "eventId": 1763899200000 + index,
            "interactionId": f"{conversation}-{index}",
            "sender": {"integrationId": "customer-1", "integrationType": "Customer"},
            "message": {"type": "text", "text": f"message {index}"},
        }
        for index in range(count)
    ]
    return orjson.dumps(
        {
            "hubId": HUB,
            "conversationId": conversation,
            "conversationProperties": {"blob": "p" * properties_bytes},
            "activities": activities,
        }
    )


def send(gateway: GatewayProcess, integration: dict[str, Any], body: bytes) -> Any:
    key = integration["configuration"]["privateSigningKey"]
    headers = {
        "Content-Type": "application/json",
        "x-hubster-signature": signing.hubster.sign(body, key),
    }
    return post(gateway, f"/webhooks/{integration['integrationId']}", body, headers)


def test_the_multiplying_body_is_413_before_anything_is_normalised(
    gateway: GatewayProcess, hubster: dict[str, Any]
) -> None:
    body = body_of(400, 100_000, "multiplying")
    assert 160 * 1024 < len(body) < 180 * 1024
    stored, rss = metric(gateway, STORED), rss_bytes(gateway)
    status, answer, _ = send(gateway, hubster, body)
    assert status == 413, answer
    assert answer["error"]["code"] == "payload_too_large"
    assert "400 activities" in answer["error"]["message"]
    assert "at most 100" in answer["error"]["message"]
    assert metric(gateway, STORED) == stored
    assert rss_bytes(gateway) - rss < 16 * 1024 * 1024
    series = 'gateway_webhooks_total{kind="hubster-system",outcome="payload_too_large"}'
    assert metric(gateway, series) >= 1


def test_activities_within_the_count_that_normalise_past_the_byte_cap_are_413(
    gateway: GatewayProcess, hubster: dict[str, Any]
) -> None:
    """100 activities each carrying the 100 KB properties: 10 MB of events, over 4 MiB."""
    stored, rss = metric(gateway, STORED), rss_bytes(gateway)
    status, answer, _ = send(gateway, hubster, body_of(100, 100_000, "heavy"))
    assert status == 413, answer
    assert answer["error"]["code"] == "payload_too_large"
    assert "normalise to more than 4194304 bytes" in answer["error"]["message"]
    assert metric(gateway, STORED) == stored
    assert rss_bytes(gateway) - rss < 16 * 1024 * 1024


def test_a_body_within_both_caps_is_accepted_whole(
    gateway: GatewayProcess, hubster: dict[str, Any]
) -> None:
    stored = metric(gateway, STORED)
    status, answer, _ = send(gateway, hubster, body_of(100, 1_000, "fits"))
    assert status == 202, answer
    assert answer == {"accepted": 100, "duplicates": 0}
    assert metric(gateway, STORED) == stored + 100
