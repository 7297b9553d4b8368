"""docs/subscribers.md as written: its receiver code, run on real deliveries, verifies them
(and refuses them tampered), in both formats and during a rotation."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.delivery.support import AUTH, activity, wait_until

DOC = (ROOT / "docs" / "subscribers.md").read_text()


def _receiver(name: str, occurrence: int = 0) -> Callable[..., Any]:
    """The `occurrence`-th Python block of the doc that defines `name`, run on its own."""
    blocks = [block for block in re.findall(r"```python\n(.*?)```", DOC, re.S) if name in block]
    namespace: dict[str, Any] = {}
    exec(blocks[occurrence], namespace)  # noqa: S102 - the documentation's own example
    function: Callable[..., Any] = namespace[name]
    return function


async def _one_delivery(gateway: Any, sink: Any, **subscriber: Any) -> tuple[Any, Any]:
    created = await gateway.create_subscriber(url=sink.url(), events=["*"], **subscriber)
    [event] = await gateway.store(activity("message:customer", text="Olá 📦"))
    await wait_until(lambda: sink.received, message="the delivery")
    return created, (event, sink.received[-1])


@pytest.mark.parametrize("occurrence", [0, 1], ids=["standardwebhooks", "svix"])
async def test_the_standard_receivers_verify_a_delivery(make_gateway, make_sink, occurrence):
    verified_event = _receiver("verified_event", occurrence)
    gateway, sink = await make_gateway(), await make_sink()
    subscriber, (event, received) = await _one_delivery(gateway, sink)

    payload = verified_event(subscriber["secret"], received.headers, received.body)

    assert payload["id"] == event.id == received.headers["webhook-id"]
    with pytest.raises(Exception, match=r"(?i)signature"):
        verified_event(subscriber["secret"], received.headers, received.body + b" ")


async def test_either_secret_verifies_during_a_rotation(make_gateway, make_sink):
    verified_event = _receiver("verified_event")
    gateway, sink = await make_gateway(), await make_sink()
    subscriber = await gateway.create_subscriber(url=sink.url(), events=["*"])
    rotated = await gateway.client.post(
        f"/subscribers/{subscriber['subscriberId']}/rotate", headers=AUTH
    )
    new_secret = (await rotated.json())["secret"]
    [event] = await gateway.store(activity())
    await wait_until(lambda: sink.received, message="the delivery")
    [received] = sink.received

    assert len(received.headers["webhook-signature"].split(" ")) == 2
    for secret in (subscriber["secret"], new_secret):
        assert verified_event(secret, received.headers, received.body)["id"] == event.id


async def test_the_hubster_receiver_verifies_a_delivery(make_gateway, make_sink):
    verified = _receiver("verified_hubster_webhook")
    gateway, sink = await make_gateway(), await make_sink()
    subscriber, (event, received) = await _one_delivery(gateway, sink, format="hubster")

    body = verified(subscriber["privateSigningKey"], received.headers, received.body)

    assert body["activities"][0]["interactionId"] == event.id
    assert received.headers["x-hubster-public-key"] == subscriber["publicSigningKey"]
    with pytest.raises(ValueError, match="does not match"):
        verified(subscriber["privateSigningKey"], received.headers, received.body[:-1] + b" ")
