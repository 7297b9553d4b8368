"""Inbound rate limits against a real `python -m gateway serve`: an integration's optional
`rateLimitPerSecond` (off by default) answers 429 `rate_limited` with `Retry-After`, before
the body is read."""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from tests.conftest import GatewayProcess, start_gateway
from tests.http.hostile_probes import (
    ADMIN_KEY,
    SCG_BASIC,
    SCG_PASSWORD,
    SCG_USER,
    admin,
    connect,
    metric,
    post,
    webhook_head,
)


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayProcess]:
    process = start_gateway(env={"GATEWAY_ADMIN_KEY": ADMIN_KEY})
    yield process
    assert process.terminate() == 0


def create_scg(gateway: GatewayProcess, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "sms",
        "kind": "scg",
        "hubId": "sms-hub",
        "configuration": {"username": SCG_USER, "password": SCG_PASSWORD},
        **extra,
    }
    return dict(admin(gateway, "POST", "/integrations", body))


def mo(event_id: str) -> bytes:
    return orjson.dumps(
        {
            "event-id": event_id,
            "event": {
                "evt-tp": "mo_message_received",
                "fld-val-list": {"from_address": "1", "to_address": "2", "message_body": "hi"},
            },
        }
    )


def send(gateway: GatewayProcess, integration: dict[str, Any], event_id: str) -> Any:
    headers = {"Content-Type": "application/json", "Authorization": SCG_BASIC}
    return post(gateway, f"/webhooks/{integration['integrationId']}", mo(event_id), headers)


def test_over_the_rate_a_webhook_is_429_with_retry_after(gateway: GatewayProcess) -> None:
    integration = create_scg(gateway, rateLimitPerSecond=2)
    assert integration["rateLimitPerSecond"] == 2
    assert [send(gateway, integration, f"r{i}")[0] for i in range(2)] == [202, 202]
    status, answer, headers = send(gateway, integration, "r2")
    assert status == 429, answer
    assert answer["error"]["code"] == "rate_limited"
    assert "at most 2 webhooks a second" in answer["error"]["message"]
    assert headers["UC-REST-ERROR"]
    retry_after = int(headers["Retry-After"])
    assert retry_after >= 1
    series = 'gateway_webhooks_total{kind="scg",outcome="rate_limited"}'
    assert metric(gateway, series) == 1
    time.sleep(retry_after)
    assert send(gateway, integration, "r3")[0] == 202


def test_the_limit_answers_before_the_body_is_read(gateway: GatewayProcess) -> None:
    """A request over the limit is answered with only its head sent: the 1 MiB it declares
    is never waited for."""
    integration = create_scg(gateway, rateLimitPerSecond=1)
    assert send(gateway, integration, "first")[0] == 202
    with connect(gateway) as sock:
        sock.sendall(
            webhook_head(
                integration["integrationId"], f"Authorization: {SCG_BASIC}", length=1 << 20
            )
        )
        sock.settimeout(3)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 429 "), answer[:200]


def test_a_paused_integration_is_409_whatever_its_rate(gateway: GatewayProcess) -> None:
    integration = create_scg(gateway, rateLimitPerSecond=1, statusId=3002)
    assert [send(gateway, integration, f"p{i}")[0] for i in range(3)] == [409, 409, 409]


def test_no_limit_by_default(gateway: GatewayProcess) -> None:
    integration = create_scg(gateway)
    assert integration["rateLimitPerSecond"] is None
    assert {send(gateway, integration, f"d{i}")[0] for i in range(30)} == {202}


def test_patch_sets_keeps_and_removes_the_limit(gateway: GatewayProcess) -> None:
    integration = create_scg(gateway)
    path = f"/integrations/{integration['integrationId']}"
    assert admin(gateway, "PATCH", path, {"rateLimitPerSecond": 0.5})["rateLimitPerSecond"] == 0.5
    assert admin(gateway, "PATCH", path, {"name": "renamed"})["rateLimitPerSecond"] == 0.5
    assert send(gateway, integration, "once")[0] == 202
    assert send(gateway, integration, "twice")[0] == 429
    assert admin(gateway, "PATCH", path, {"rateLimitPerSecond": None})["rateLimitPerSecond"] is None
    assert send(gateway, integration, "thrice")[0] == 202


@pytest.mark.parametrize("value", [0, -1, "5", True, 1e9, {}])
def test_the_limit_must_be_a_positive_number(gateway: GatewayProcess, value: Any) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        create_scg(gateway, rateLimitPerSecond=value)
    assert refused.value.code == 400
    error = orjson.loads(refused.value.read())["error"]
    assert error["code"] == "invalid_payload"
    assert error["message"].startswith("rateLimitPerSecond")
