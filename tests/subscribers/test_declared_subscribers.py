"""`[[subscribers]]` in the configuration: created at start-up, idempotently, refused with a
ConfigError naming the table and field when the admin API would refuse them."""

from __future__ import annotations

import pytest

from gateway.config import ConfigError
from gateway.engine.memory import MemoryEngine
from tests.delivery.support import AUTH, activity, wait_until

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def test_declared_subscribers_exist_from_start_up_and_receive(make_gateway, make_sink):
    sink = await make_sink()
    engine = MemoryEngine()
    declared = [
        {"url": sink.url(), "events": ["message"], "secret": SECRET},
        {"subscriberId": "crm", "url": "http://crm.example/in", "events": ["*"]},
    ]
    gateway = await make_gateway(engine=engine, subscribers=declared)
    listing = await (await gateway.client.get("/subscribers", headers=AUTH)).json()
    assert listing["total"] == 2
    first, crm = listing["results"]
    assert first["secret"] == SECRET
    assert crm["subscriberId"] == "crm"

    await gateway.store(activity())
    await wait_until(lambda: sink.received, message="a delivery to the declared subscriber")

    again = await make_gateway(engine=engine, subscribers=declared)
    relisted = await (await again.client.get("/subscribers", headers=AUTH)).json()
    assert relisted["results"] == listing["results"]


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"url": "http://a.example/", "events": ["nope"]}, "#1: events.0"),
        ({"events": ["*"]}, "#1: url"),
        ({"url": "http://127.0.0.1/", "events": ["*"]}, "#1: url: 127.0.0.1"),
    ],
)
async def test_bad_declarations_stop_start_up(make_gateway, table, problem):
    with pytest.raises(ConfigError, match=f"subscribers]] {problem}"):
        await make_gateway(subscribers=[table], allow_private_targets=False)
