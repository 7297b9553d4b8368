"""Whatever a provider (or an attacker holding the credentials) sends, correctly signed or
not, the answer is never a 500: arbitrary JSON and bytes, signed so they reach the parsers,
and arbitrary headers."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inbound_support import KIND_CONFIG, Gateway, GatewayFactory, fixture_bytes, signed

from gateway.events.model import ActivityEvent

KINDS = list(KIND_CONFIG)
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
# Values the parsers branch on, so random bodies also reach the deeper paths.
scalars |= st.sampled_from(
    [
        "message:customer",
        "receipt:delivered",
        "event:x",
        "message",
        "event",
        "Customer",
        "Agent",
        "WebChat",
        "mo_message_received",
        "message_state_change",
        "message.received",
        "message.sent",
        "message.finalized",
        "hubster",
        "standard",
        "2026-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "STOP",
        1763899200123,
        "1",
    ]
)
# Numbers past 64 bits (as JSON numbers and as digit strings) and digit strings past Python's
# int() limit: what a provider's number fields must survive.
HUGE_NUMBERS = [
    99999999999999999999999,
    "99999999999999999999999",
    "9" * 5000,
    2**63,
    -(2**63) - 1,
    2**31,
    str(2**31),
]
scalars |= st.sampled_from(HUGE_NUMBERS)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
# Bodies that look like what providers send, with any member replaced or dropped.
provider_keys = st.sampled_from(
    [
        "hubId",
        "tenantId",
        "conversationId",
        "activities",
        "activity",
        "type",
        "eventId",
        "message",
        "event",
        "sender",
        "recipient",
        "integrationType",
        "channelType",
        "evt-tp",
        "fld-val-list",
        "event-id",
        "event_id",
        "attempt",
        "new_state",
        "timestamp",
        "data",
        "occurredAt",
        "source",
        "MessageSid",
        "MessageStatus",
        "From",
        "To",
        "Body",
        "NumMedia",
        "MediaUrl0",
        "isEcho",
        "event_type",
        "occurred_at",
        "payload",
        "meta",
        "from",
        "to",
        "phone_number",
        "status",
        "errors",
        "cost",
        "amount",
        "media",
    ]
)
shaped = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(provider_keys | st.text(max_size=5), inner, max_size=6)
    ),
    max_leaves=25,
)


def encode(value: Any) -> bytes:
    """JSON text as any sender may write it: big integers and non-ASCII included."""
    return json.dumps(value, ensure_ascii=False).encode()


FIXTURES = [
    json.loads(fixture_bytes(name))
    for name in (
        "hubster-system-messages.json",
        "hubster-direct-agent-image.json",
        "scg-receipt-delivered.json",
        "scg-mo-message.json",
        "telnyx-message-received.json",
        "telnyx-message-sent.json",
        "telnyx-message-finalized.json",
    )
]


STANDARD_ACTIVITY = {
    "type": "receipt:delivered",
    "occurredAt": "2026-01-01T00:00:00Z",
    "source": {"provider": "standard", "eventId": "e1", "attempt": 1},
    "receipt": {"state": "delivered", "reasonCode": 1, "price": 1.5},
}
TELNYX_FAILED = {**FIXTURES[6]["data"]["payload"], "errors": [{"code": "40008", "title": "x"}]}
TELNYX_CODE = ("data", "payload", "errors", 0, "code")
TWILIO_JSON = {"MessageSid": "SM1", "From": "+1", "To": "+2", "Body": "hi", "NumMedia": "0"}
SCOPE = ("hubId", "tenantId")  # the test integrations have their own hub: no claim
HUBSTER_POSITIONS = [
    ({k: v for k, v in FIXTURES[0].items() if k not in SCOPE}, ("activities", 0, "eventId")),
    ({k: v for k, v in FIXTURES[1].items() if k not in SCOPE}, ("activity", "eventId")),
]
# Where each kind's adapter reads a number (or a numeric string) from the body.
NUMBER_POSITIONS: dict[str, list[tuple[Any, tuple[str | int, ...]]]] = {
    "hubster-system": HUBSTER_POSITIONS,
    "hubster-direct": HUBSTER_POSITIONS,
    "scg": [
        (FIXTURES[2], ("attempt",)),
        (FIXTURES[3], ("attempt",)),
        (FIXTURES[2], ("event", "fld-val-list", "reason_code")),
        (FIXTURES[2], ("event", "fld-val-list", "reason_description")),
        (FIXTURES[2], ("event", "fld-val-list", "mt_price")),
    ],
    "standard": [
        (STANDARD_ACTIVITY, ("source", "attempt")),
        (STANDARD_ACTIVITY, ("receipt", "reasonCode")),
        (STANDARD_ACTIVITY, ("receipt", "price")),
    ],
    "telnyx": [
        (FIXTURES[4], ("meta", "attempt")),
        (FIXTURES[5], ("meta", "attempt")),
        (FIXTURES[5], ("data", "payload", "cost", "amount")),
        (FIXTURES[6], ("data", "payload", "to", 0, "status")),
        (FIXTURES[6] | {"data": {**FIXTURES[6]["data"], "payload": TELNYX_FAILED}}, TELNYX_CODE),
    ],
    "twilio": [
        (TWILIO_JSON, ("NumMedia",)),
        (TWILIO_JSON, ("MessageStatus",)),
        (TWILIO_JSON, ("ErrorCode",)),
        (TWILIO_JSON, ("Price",)),
    ],
}


@st.composite
def huge_numbers_in_place(draw: st.DrawFn, kind: str) -> bytes:
    """A body for `kind` with a huge number or digit string where a number is read."""
    base, path = draw(st.sampled_from(NUMBER_POSITIONS[kind]))
    document = copy.deepcopy(base)
    node: Any = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = draw(st.sampled_from(HUGE_NUMBERS))
    return encode(document)


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> bytes:
    """A real provider body with one member, at any depth, replaced by any JSON value."""
    document = copy.deepcopy(draw(st.sampled_from(FIXTURES)))
    node: Any = document
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = draw(st.sampled_from(keys))
        child = node[key]
        if not isinstance(child, dict | list) or not child or draw(st.booleans()):
            node[key] = draw(json_values)
            return encode(document)
        node = child


bodies = st.one_of(
    mutated_fixtures(),
    json_values.map(encode),
    shaped.map(encode),
    st.binary(max_size=200),
)
header_names = st.sampled_from(
    [
        "Content-Type",
        "Authorization",
        "x-hubster-signature",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "svix-id",
        "X-Twilio-Signature",
        "telnyx-signature-ed25519",
        "telnyx-timestamp",
        "Content-Encoding",
        "X-Request-Id",
    ]
)
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
header_values |= st.sampled_from(
    ["gzip", "deflate", "br", "application/json", "application/x-www-form-urlencoded", "Bearer x"]
)


@pytest.fixture(params=KINDS)
async def target(request: Any, make_gateway: GatewayFactory) -> tuple[Gateway, dict[str, Any], str]:
    gateway = await make_gateway()
    kind = request.param
    integration = await gateway.create(kind, configuration=dict(KIND_CONFIG[kind]))
    return gateway, integration, kind


async def post_signed(target: tuple[Gateway, dict[str, Any], str], body: bytes, form: bool) -> int:
    """Post `body` signed; whatever was accepted must be stored in the served schema's shape."""
    gateway, integration, kind = target
    url = gateway.url(f"/webhooks/{integration['integrationId']}")
    headers, query = signed(kind, integration, body, url, form=form)
    response = await gateway.post(integration, body, headers, query)
    if response.status == 202:
        for event in await gateway.engine.events.read_after("0", 10_000):
            ActivityEvent.model_validate_json(event.payload)
    return response.status


@PROPERTY_SETTINGS
@given(body=bodies)
async def test_signed_bodies_never_500(
    target: tuple[Gateway, dict[str, Any], str], body: bytes
) -> None:
    status = await post_signed(target, body, form=False)
    assert status in (202, 400), status


@PROPERTY_SETTINGS
@given(data=st.data())
async def test_huge_numbers_never_500(
    target: tuple[Gateway, dict[str, Any], str], data: st.DataObject
) -> None:
    body = data.draw(huge_numbers_in_place(target[2]))
    status = await post_signed(target, body, form=False)
    assert status in (202, 400), status


@PROPERTY_SETTINGS
@given(
    fields=st.dictionaries(
        provider_keys | st.text(max_size=8),
        st.text(max_size=20) | st.sampled_from([str(value) for value in HUGE_NUMBERS]),
        max_size=8,
    ),
    base=st.sampled_from([{}, TWILIO_JSON]),
)
async def test_signed_twilio_forms_never_500(
    make_gateway: GatewayFactory, fields: dict[str, str], base: dict[str, str]
) -> None:
    """Random fields, alone or over a valid inbound SMS (so they reach the deeper paths)."""
    gateway = await make_gateway()
    integration = await gateway.create("twilio", configuration=dict(KIND_CONFIG["twilio"]))
    form = urlencode({**base, **fields}).encode()
    status = await post_signed((gateway, integration, "twilio"), form, form=True)
    assert status in (202, 400), status


@PROPERTY_SETTINGS
@given(headers=st.dictionaries(header_names, header_values, max_size=6), body=bodies)
async def test_arbitrary_headers_never_500(
    target: tuple[Gateway, dict[str, Any], str], headers: dict[str, str], body: bytes
) -> None:
    gateway, integration, _ = target
    response = await gateway.post(integration, body, headers)
    assert response.status in (400, 401, 403, 413, 415), response.status
    if response.content_type == "application/json":
        assert (await response.json())["error"]["code"]
    else:  # aiohttp's own parser refused the request (e.g. an unknown Content-Encoding)
        assert response.status == 400


@PROPERTY_SETTINGS
@given(body=st.one_of(mutated_fixtures(), shaped.map(encode)))
async def test_whatever_was_accepted_comes_back_a_duplicate_without_normalising(
    target: tuple[Gateway, dict[str, Any], str], body: bytes
) -> None:
    """The dedup keys a redelivery is recognised by are those its activities were stored
    under, whatever the body: were they not, it would be normalised again."""
    gateway, integration, kind = target
    url = gateway.url(f"/webhooks/{integration['integrationId']}")
    headers, query = signed(kind, integration, body, url)
    first = await gateway.post(integration, body, headers, query)
    if first.status != 202:
        return
    answer = await first.json()
    normalised = await gateway.metric("gateway_webhooks_normalised_total")
    again = await gateway.post(integration, body, headers, query)
    assert again.status == 202
    activities = answer["accepted"] + answer["duplicates"]
    assert await again.json() == {"accepted": 0, "duplicates": activities}
    assert await gateway.metric("gateway_webhooks_normalised_total") == normalised
