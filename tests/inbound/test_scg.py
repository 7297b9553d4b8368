"""SCG: receipts of any state, MOs and consent, other topics, id spellings, attempts,
credentials (Basic and Bearer)."""

from __future__ import annotations

import base64
import copy
from typing import Any

import orjson
import pytest
from inbound_support import Gateway, fixture_bytes, scg_event_between, scg_headers

from gateway.events.model import ActivityEvent

RECEIPT: dict[str, Any] = orjson.loads(fixture_bytes("scg-receipt-delivered.json"))
MO: dict[str, Any] = orjson.loads(fixture_bytes("scg-mo-message.json"))


def variant(base: dict[str, Any], **fields: Any) -> bytes:
    body = copy.deepcopy(base)
    body["event"]["fld-val-list"].update(fields)
    return orjson.dumps(body)


@pytest.fixture
async def scg(gateway: Gateway) -> dict[str, Any]:
    return await gateway.create("scg", "sms-hub", "acme")


async def post(gateway: Gateway, integration: dict[str, Any], body: bytes) -> tuple[int, Any]:
    response = await gateway.post(integration, body, scg_headers(integration))
    return response.status, await response.json()


@pytest.mark.parametrize("state", ["QUEUED", "BAD_REQUEST", "Read", "SOMETHING_NEW"])
async def test_any_receipt_state_is_lower_cased(
    gateway: Gateway, scg: dict[str, Any], state: str
) -> None:
    assert (await post(gateway, scg, variant(RECEIPT, new_state=state, previous_state="QUEUED")))[
        0
    ] == 202
    [stored] = await gateway.stored()
    assert stored["type"] == f"receipt:{state.lower()}"
    assert stored["receipt"]["state"] == state.lower()
    assert stored["receipt"]["previousState"] == "queued"
    assert stored["data"]["message_request_id"] == "96Wf3kBe2DJXhyqBOxsFO6"


async def test_unknown_topic_and_event_type_are_generic_events(
    gateway: Gateway, scg: dict[str, Any]
) -> None:
    body = {
        "topic": "SCG-Voice-Call",
        "attempt": "2",
        "event": {
            "evt-tp": "call_state_change",
            "fld-val-list": {"call_id": "c1", "country": "PT"},
        },
        "event_id": "voice-1",
        "x-extra": 1,
    }
    assert await post(gateway, scg, orjson.dumps(body)) == (202, {"accepted": 1, "duplicates": 0})
    [stored] = await gateway.stored()
    assert stored["type"] == "event:call_state_change"
    assert stored["event"] == {"type": "call_state_change"}
    assert stored["source"] == {
        "provider": "scg",
        "eventId": "voice-1",
        "attempt": 2,
        "echo": False,
    }
    assert stored["data"] == {
        "topic": "SCG-Voice-Call",
        "x-extra": 1,
        "call_id": "c1",
        "country": "PT",
    }
    assert stored["channel"] is None


@pytest.mark.parametrize("attempt", [1, "1", "3", 7])
async def test_attempt_number_or_numeric_string(
    gateway: Gateway, scg: dict[str, Any], attempt: Any
) -> None:
    body = orjson.loads(fixture_bytes("scg-mo-message.json")) | {"attempt": attempt}
    assert (await post(gateway, scg, orjson.dumps(body)))[0] == 202
    assert (await gateway.stored())[0]["source"]["attempt"] == int(attempt)


@pytest.mark.parametrize("attempt", [0, "x", True, -1, "1.5"])
async def test_bad_attempt_is_invalid(gateway: Gateway, scg: dict[str, Any], attempt: Any) -> None:
    body = orjson.loads(fixture_bytes("scg-mo-message.json")) | {"attempt": attempt}
    status, answer = await post(gateway, scg, orjson.dumps(body))
    assert (status, answer["error"]["message"].split(":")[0]) == (400, "attempt")


async def test_redelivery_with_either_id_spelling_is_one_event(
    gateway: Gateway, scg: dict[str, Any]
) -> None:
    with_hyphen = orjson.loads(fixture_bytes("scg-receipt-delivered.json"))
    with_underscore = {key: value for key, value in with_hyphen.items() if key != "event-id"}
    with_underscore["event_id"] = with_hyphen["event-id"]
    with_underscore["attempt"] = 2
    assert await post(gateway, scg, orjson.dumps(with_hyphen)) == (
        202,
        {"accepted": 1, "duplicates": 0},
    )
    assert await post(gateway, scg, orjson.dumps(with_underscore)) == (
        202,
        {"accepted": 0, "duplicates": 1},
    )
    assert len(await gateway.stored()) == 1
    assert await gateway.metric("gateway_duplicates_total") == 1


@pytest.mark.parametrize(
    ("text", "consent"),
    [
        ("STOP", "optout"),
        (" stopall ", "optout"),
        ("Unsubscribe", "optout"),
        ("cancel", "optout"),
        ("END", "optout"),
        ("quit", "optout"),
        ("START", "optin"),
        ("yes", "optin"),
        ("Unstop", "optin"),
    ],
)
async def test_consent_keywords(
    gateway: Gateway, scg: dict[str, Any], text: str, consent: str
) -> None:
    body = variant(MO, message_body=text)
    assert await post(gateway, scg, body) == (202, {"accepted": 2, "duplicates": 0})
    message, derived = await gateway.stored()
    assert derived["type"] == f"consent:{consent}"
    assert derived["conversationId"] == message["conversationId"]
    assert derived["data"]["keyword"] == text.strip().upper()
    assert await post(gateway, scg, body) == (202, {"accepted": 0, "duplicates": 2})


async def test_sentence_with_keyword_is_not_consent(gateway: Gateway, scg: dict[str, Any]) -> None:
    assert (await post(gateway, scg, variant(MO, message_body="please stop calling")))[1][
        "accepted"
    ] == 1


async def test_unicode_message_body(gateway: Gateway, scg: dict[str, Any]) -> None:
    text = "Olá, 你好, مرحبا 🚚"
    await post(gateway, scg, variant(MO, message_body=text))
    assert (await gateway.stored())[0]["message"] == {"type": "text", "text": text}


async def test_threads_differ_by_address_pair_and_hub(
    gateway: Gateway, scg: dict[str, Any]
) -> None:
    other_hub = await gateway.create("scg", "other-hub", "acme")
    await post(gateway, scg, orjson.dumps(MO))
    await post(
        gateway,
        scg,
        variant(MO, from_address="+19995550000").replace(b"jX5nAV9USriK2LkS6e0D0g", b"another"),
    )
    await post(gateway, other_hub, orjson.dumps(MO))
    first, other_customer, other_hub_message = await gateway.stored()
    assert (
        len(
            {
                first["conversationId"],
                other_customer["conversationId"],
                other_hub_message["conversationId"],
            }
        )
        == 3
    )


@pytest.mark.parametrize(
    "configuration", [{"username": "ess", "password": "pässword"}, {"bearerToken": "tok-123"}, {}]
)
async def test_basic_and_bearer_credentials(
    gateway: Gateway, configuration: dict[str, str]
) -> None:
    integration = await gateway.create("scg", configuration=configuration)
    body = orjson.dumps(MO)
    assert (await gateway.post(integration, body, scg_headers(integration))).status == 202
    wrong = "Basic " + base64.b64encode(b"ess:nope").decode()
    for authorization in (wrong, "Bearer nope", "Digest x", "Basic", None):
        headers = {"Content-Type": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        response = await gateway.post(integration, body, headers)
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "unauthorized"


async def test_receipt_without_addresses_has_no_conversation(
    gateway: Gateway, scg: dict[str, Any]
) -> None:
    body = copy.deepcopy(RECEIPT)
    del body["event"]["fld-val-list"]["to_address"]
    assert (await post(gateway, scg, orjson.dumps(body)))[0] == 202
    [stored] = await gateway.stored()
    assert stored["conversationId"] is None and stored["recipient"] is None


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.pop("event"), "event"),
        (lambda b: b.pop("event-id"), "event-id (or event_id)"),
        (lambda b: b["event"].pop("evt-tp"), "event.evt-tp"),
        (lambda b: b["event"].update(timestamp="yesterday"), "event.timestamp"),
        (lambda b: b["event"]["fld-val-list"].pop("new_state"), "event.fld-val-list.new_state"),
        (lambda b: b["event"].update({"fld-val-list": [1]}), "event.fld-val-list"),
    ],
)
async def test_wrong_shapes_name_the_field(
    gateway: Gateway, scg: dict[str, Any], mutate: Any, field: str
) -> None:
    body = copy.deepcopy(RECEIPT)
    mutate(body)
    status, answer = await post(gateway, scg, orjson.dumps(body))
    assert status == 400
    assert answer["error"]["message"].startswith(field + ":")


ODD_VALUES = [{"a": 1}, [1, "x"], True, 200, 0.5, "", None, "text"]
RECEIPT_MEMBERS = {
    "reason_code": "reasonCode",
    "reason_description": "reasonDescription",
    "mt_price": "price",
}


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
@pytest.mark.parametrize("name", list(RECEIPT_MEMBERS))
async def test_odd_receipt_fields_store_a_schema_valid_event(
    gateway: Gateway, scg: dict[str, Any], name: str, value: Any
) -> None:
    """The stored event validates against the served schema, and a value is never dropped:
    it is in the receipt (in the schema's type) or, when it cannot be, in `data`."""
    assert (await post(gateway, scg, variant(RECEIPT, **{name: value})))[0] == 202
    [event] = await gateway.engine.events.read_after("0", 10)
    ActivityEvent.model_validate_json(event.payload)
    stored = orjson.loads(event.payload)
    in_receipt = stored["receipt"][RECEIPT_MEMBERS[name]] is not None
    in_data = name in stored["data"]
    assert in_receipt != in_data or value in (None, "")


async def test_receipt_reasons_are_text_and_prices_numbers_or_text(
    gateway: Gateway, scg: dict[str, Any]
) -> None:
    body = variant(RECEIPT, reason_code=4001, reason_description=True, mt_price=2)
    assert (await post(gateway, scg, body))[0] == 202
    body = variant(RECEIPT, reason_code=0.5, mt_price="0.0075").replace(b"kQ2b", b"next")
    assert (await post(gateway, scg, body))[0] == 202
    body = variant(RECEIPT, mt_price=False).replace(b"kQ2b", b"last")
    assert (await post(gateway, scg, body))[0] == 202
    first, second, third = await gateway.stored()
    assert (first["receipt"]["reasonCode"], first["receipt"]["reasonDescription"]) == (
        "4001",
        "true",
    )
    assert first["receipt"]["price"] == 2
    assert (second["receipt"]["reasonCode"], second["receipt"]["price"]) == ("0.5", "0.0075")
    assert third["receipt"]["price"] is None and third["data"]["mt_price"] is False


LONG_S = "\u017f"  # LATIN SMALL LETTER LONG S, whose upper case is S


@pytest.mark.parametrize(
    "text", [LONG_S + "top", LONG_S + "tart", "\uff33\uff34\uff2f\uff30", "stop\u200b"]
)
async def test_consent_keywords_are_ascii_only(
    gateway: Gateway, scg: dict[str, Any], text: str
) -> None:
    """Unicode case mapping (long s upper-cases to S) must not turn a word into a keyword."""
    assert await post(gateway, scg, variant(MO, message_body=text)) == (
        202,
        {"accepted": 1, "duplicates": 0},
    )
    [message] = await gateway.stored()
    assert message["message"]["text"] == text


@pytest.mark.parametrize("hyphenated", [None, "", 7])
async def test_event_id_is_whichever_spelling_is_a_string(
    gateway: Gateway, scg: dict[str, Any], hyphenated: Any
) -> None:
    body = {**RECEIPT, "event-id": hyphenated, "event_id": "underscored-1"}
    assert (await post(gateway, scg, orjson.dumps(body)))[0] == 202
    assert (await gateway.stored())[0]["source"]["eventId"] == "underscored-1"


async def test_no_usable_event_id_names_both_spellings(
    gateway: Gateway, scg: dict[str, Any]
) -> None:
    body = {**RECEIPT, "event-id": None, "event_id": 5}
    status, answer = await post(gateway, scg, orjson.dumps(body))
    assert status == 400
    assert answer["error"]["message"].startswith("event-id (or event_id):")


async def test_unknown_event_naming_both_addresses_joins_their_thread(
    gateway: Gateway, scg: dict[str, Any]
) -> None:
    """An event of a type the gateway does not know belongs to the conversation of the
    address pair it names, the same conversation as an MO between those addresses."""
    call = scg_event_between(MO, "call_state_change", "voice-2")
    assert (await post(gateway, scg, orjson.dumps(call)))[0] == 202
    assert (await post(gateway, scg, fixture_bytes("scg-mo-message.json")))[0] == 202
    stored_call, stored_mo = await gateway.stored()
    assert stored_call["type"] == "event:call_state_change"
    assert stored_call["conversationId"] is not None
    assert stored_call["conversationId"] == stored_mo["conversationId"]
