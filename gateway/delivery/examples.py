"""Example events, for `POST /subscribers/{id}/test`: an activity of any type in the
vocabulary, shaped exactly like a stored one, for a receiver to check its endpoint against.

An example is never stored: its id (`example-` and 32 hex digits) is not a gateway event id,
so a receiver that deduplicates on `webhook-id` can never mistake it for a real event, and
its `data.example` is true. Pure: the clock and the id come in as arguments.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from gateway.events.activity import Activity, Destination, build_activity, party, source
from gateway.events.model import Role
from gateway.times import format_seconds

EXAMPLE_TYPE_PATTERN = (
    r"^(message:(customer|agent|bot|system)|consent:(optin|optout)"
    r"|receipt:[a-z0-9_.-]{1,100}|event:\S([\s\S]{0,98}\S)?)(?![\s\S])"
)
"""A concrete type of the vocabulary: a message of one of the four roles, a consent change,
a receipt of a lower-case state, an event of any name (a filter such as `message` or `*`
is not a type)."""
_EXAMPLE_TYPE = re.compile(EXAMPLE_TYPE_PATTERN)

EXAMPLE_HUB = "example-hub"
EXAMPLE_INTEGRATION = "example-integration"
EXAMPLE_CONVERSATION = "00000000-0000-4000-8000-00000000e9a1"
CUSTOMER = "+14085551212"
BUSINESS = "66000"
_KEYWORDS = {"optin": "START", "optout": "STOP"}
_ROLES: dict[str, Role] = {role: role for role in get_args(Role)}


def _check_type(value: str) -> str:
    if not _EXAMPLE_TYPE.match(value):
        raise ValueError(
            f"'{value}' is not an event type: message:customer|agent|bot|system, "
            "receipt:<state>, event:<name> or consent:optin|optout"
        )
    return value


ExampleType = Annotated[
    str,
    AfterValidator(_check_type),
    WithJsonSchema({"type": "string", "pattern": EXAMPLE_TYPE_PATTERN}),
]


class ExampleRequest(BaseModel):
    """`POST /subscribers/{id}/test`; an empty body asks for a `message:customer`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"eventType": "message:customer"}]},
    )

    eventType: ExampleType = Field(
        "message:customer", description="The type of the example event to send."
    )


def example_event_id() -> str:
    return "example-" + uuid.uuid4().hex


def example_activity(
    event_type: str, hub_ids: tuple[str, ...] | None, event_id: str, now: float
) -> Activity:
    """The example event of `event_type` (checked by `ExampleRequest`), in a hub the
    subscriber takes (`hub_ids`, None for every hub), with `id` first as in stored events."""
    family, _, name = event_type.partition(":")
    at = format_seconds(now)
    destination = Destination(
        integration_id=EXAMPLE_INTEGRATION,
        hub_id=hub_ids[0] if hub_ids else EXAMPLE_HUB,
        tenant_id=None,
        received_at=at,
    )
    customer = party("customer", None, CUSTOMER)
    business = party("system", None, BUSINESS)
    members: dict[str, Any] = {"sender": customer, "recipient": business}
    data: dict[str, Any] = {"example": True}
    if family == "message":
        role = _ROLES[name]
        if role != "customer":
            members = {"sender": party(role, f"example-{role}"), "recipient": customer}
        members["message"] = {"type": "text", "text": f"This is an example {role} message."}
    elif family == "receipt":
        members = {"sender": business, "recipient": customer}
        members["receipt"] = {
            "messageId": "example-message",
            "state": name,
            "previousState": "sent",
            "reasonCode": None,
            "reasonDescription": None,
            "price": None,
        }
    elif family == "event":
        members["event"] = {"type": name}
    else:
        data["keyword"] = _KEYWORDS[name]
    activity = build_activity(
        destination,
        type=event_type,
        occurred_at=at,
        conversation_id=EXAMPLE_CONVERSATION,
        channel="SMS",
        source=source("standard", event_id),
        data=data,
        **members,
    )
    return {"id": event_id, **activity}
