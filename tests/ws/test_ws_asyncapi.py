"""The AsyncAPI document of the websocket (`docs/asyncapi.yaml`) is valid AsyncAPI 3.0, says
what the code parses and generates, and every frame of a real session conforms to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from asyncapi_frames import DOCUMENT_PATH, asyncapi_frames
from pydantic import BaseModel
from ws_helpers import activity, agent_token, closed_with, next_frame, publish

from gateway.engine.ids import EVENT_ID_PATTERN
from gateway.events.filters import FILTER_PATTERN
from gateway.events.model import ActivityEvent
from gateway.reference.schemas import component_schemas
from gateway.ws.frames import (
    AUTH_FRAME,
    SESSION_FRAME,
    AuthFrame,
    PongFrame,
    RefreshFrame,
    StatusFrame,
    SubscribeFrame,
)

OFFICIAL_SCHEMA = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "asyncapi-specs"
    / "asyncapi-3.0.0.schema.json"
)
CLIENT_MODELS: dict[str, type[BaseModel]] = {
    "auth": AuthFrame,
    "subscribe": SubscribeFrame,
    "refresh": RefreshFrame,
    "status": StatusFrame,
    "pong": PongFrame,
}


def _local_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _local_refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _local_refs(item)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref}: only references inside the document"
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_document_is_valid_asyncapi_3() -> None:
    """Against the official AsyncAPI 3.0.0 JSON Schema (npm @asyncapi/specs, vendored), and
    every `$ref` resolves (the official schema cannot check that)."""
    document = asyncapi_frames().document
    schema = json.loads(OFFICIAL_SCHEMA.read_text())
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(document))
    assert not errors, [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:5]]
    assert document["asyncapi"] == "3.0.0"
    for ref in _local_refs(document):
        _resolve(document, ref)


def test_the_activity_schemas_are_the_models() -> None:
    """The event frame carries `ActivityEvent` exactly as the model describes it."""
    _, expected = component_schemas([(ActivityEvent, "serialization")])
    documented = asyncapi_frames().document["components"]["schemas"]
    for name, schema in expected.items():
        assert documented.get(name) == schema, (
            f"components.schemas.{name} in {DOCUMENT_PATH.name} differs from the model; "
            "regenerate it with gateway.reference.schemas.component_schemas"
        )


def test_the_patterns_are_the_codes() -> None:
    """Event ids and filters are described by the patterns the gateway checks them with."""
    schemas = asyncapi_frames().document["components"]["schemas"]
    assert schemas["EventId"]["pattern"] == EVENT_ID_PATTERN
    assert schemas["EventFilters"]["items"]["pattern"] == FILTER_PATTERN


def test_every_example_conforms_to_its_message() -> None:
    frames = asyncapi_frames()
    for name, message in frames.messages.items():
        assert message.get("examples"), f"{name} has no example"
        for example in message["examples"]:
            errors = list(frames.validator(name).iter_errors(example["payload"]))
            assert not errors, f"{name} example {example['name']}: {errors[0].message}"


@pytest.mark.parametrize("name", sorted(CLIENT_MODELS))
def test_client_messages_are_what_the_gateway_parses(name: str) -> None:
    """Members and required members are the parser's, and every example parses."""
    model = CLIENT_MODELS[name]
    payload = asyncapi_frames().messages[name]["payload"]
    fields = {field.alias or key: field for key, field in model.model_fields.items()}
    assert set(payload["properties"]) == set(fields)
    assert set(payload["required"]) == {key for key, field in fields.items() if field.is_required()}
    assert payload["additionalProperties"] is False
    parser: Any = AUTH_FRAME if name == "auth" else SESSION_FRAME
    for example in asyncapi_frames().messages[name]["examples"]:
        assert isinstance(parser.validate_python(example["payload"]), model)


def test_the_directions_cover_every_message() -> None:
    frames = asyncapi_frames()
    to_gateway, to_client = frames.message_names("to_gateway"), frames.message_names("to_client")
    assert to_gateway == set(CLIENT_MODELS)
    assert not to_gateway & to_client
    assert to_gateway | to_client == set(frames.messages)


async def test_every_frame_of_a_real_session_conforms(make_gateway: Any) -> None:
    """One gateway, sessions exercising every message both ways and the refusals; every
    recorded frame validates, and every message of the document was seen."""
    gw = await make_gateway(ws_heartbeat_seconds=0.3, ws_refresh_grace_seconds=5)
    earlier = await publish(gw.engine, [activity("hub-a", "c1", seq=1), activity("hub-a", "c2")])

    ws = await gw.connect()
    token = agent_token("ann", ["hub-a", "hub-b"], name="Ann")
    await ws.send_json(
        {"type": "auth", "token": token, "lastEventId": earlier[0].id, "events": ["message"]}
    )
    assert (await next_frame(ws, "ready"))["hubIds"] == ["hub-a", "hub-b"]
    assert (await next_frame(ws, "event"))["event"]["id"] == earlier[1].id
    assert await next_frame(ws, "recovered") == {"type": "recovered", "recovered": True, "count": 1}
    await ws.send_json({"type": "subscribe", "conversationIds": ["c1"], "events": ["receipt"]})
    assert (await next_frame(ws, "subscribed"))["conversationIds"] == ["c1"]
    live = await publish(gw.engine, [activity("hub-a", "c1", kind="receipt:delivered")])
    assert (await next_frame(ws, "event"))["event"]["id"] == live[0].id
    await ws.send_json({"type": "subscribe", "hubIds": ["hub-z"]})
    assert (await next_frame(ws, "error"))["error"]["code"] == "access_denied"
    await ws.send_json({"type": "status", "status": "busy"})
    while (await next_frame(ws, "presence"))["agents"][0]["status"] != "busy":
        pass
    await next_frame(ws, "ping")
    await ws.send_json({"type": "pong"})
    await ws.close()

    expiring, _ = await gw.session(agent_token("bob", ["hub-a"], ttl=1))
    assert (await next_frame(expiring, "error"))["error"]["code"] == "expired_token"
    await expiring.send_json({"type": "refresh", "token": agent_token("bob", ["hub-a"])})
    assert (await next_frame(expiring, "refreshed"))["expiresAt"].endswith("Z")
    await expiring.close()

    no_hub = await gw.connect()
    await no_hub.send_json(
        {"type": "auth", "token": agent_token("carol", []), "historySeconds": 60, "historyLimit": 5}
    )
    assert (await next_frame(no_hub, "error"))["error"]["code"] == "access_denied"
    assert await closed_with(no_hub) == 4003
    bad_token = await gw.connect()
    await bad_token.send_json({"type": "auth", "token": "not-a-jwt"})
    assert await closed_with(bad_token) == 4001
    malformed, _ = await gw.session(agent_token("dave", ["hub-a"]))
    await malformed.send_json({"type": "dance"})
    assert (await next_frame(malformed, "error"))["error"]["code"] == "invalid_payload"
    assert await closed_with(malformed) == 4400

    log, frames = gw.frames, asyncapi_frames()
    assert log.problems("to_client") == []
    assert log.problems("to_gateway") == ["no to_gateway message of type 'dance' in the document"]
    for direction in ("to_gateway", "to_client"):
        seen = {
            frames.message_for(direction, json.loads(text)["type"])
            for text in log.frames_to(direction)
        }
        assert seen - {None} == frames.message_names(direction)
