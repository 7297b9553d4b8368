"""What SMS providers (SCG, Twilio) share: one conversation per SMS thread, consent
keywords, and receipt details in the activity schema's types."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

import orjson

SMS = "SMS"  # the channel of every SMS activity, whichever provider carried it
_THREAD_NAMESPACE = uuid.UUID("2d6b1f0a-7c3e-4e59-9a41-8b0c5d7e6f13")

Consent = Literal["optin", "optout"]
_KEYWORDS: dict[str, Consent] = {
    "STOP": "optout",
    "STOPALL": "optout",
    "UNSUBSCRIBE": "optout",
    "CANCEL": "optout",
    "END": "optout",
    "QUIT": "optout",
    "START": "optin",
    "YES": "optin",
    "UNSTOP": "optin",
}


def thread_conversation_id(hub_id: str, customer: str, business: str) -> str:
    """Stable for (customer address, sender address) within a hub, whichever way a message
    goes and whichever provider carried it, so one SMS thread is one conversation."""
    return str(uuid.uuid5(_THREAD_NAMESPACE, "\n".join((hub_id, customer, business))))


def consent_of(text: str) -> tuple[Consent, str] | None:
    """The consent change and keyword an MO text asks for, if it is exactly a keyword.
    ASCII only: Unicode case mapping would read look-alikes as keywords ("\u017ftop" upper-cases
    to "STOP")."""
    if not text.isascii():
        return None
    keyword = text.strip().upper()
    consent = _KEYWORDS.get(keyword)
    return None if consent is None else (consent, keyword)


def _fits(member: str, value: Any) -> bool:
    """Whether a value can take the schema's type: the reasons any scalar (made text), the
    price a number or text."""
    if member == "price":
        return value is None or (
            isinstance(value, int | float | str) and not isinstance(value, bool)
        )
    return not isinstance(value, dict | list)


def _text(value: Any) -> str:
    """A scalar as text: numbers and booleans in their JSON spelling."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def receipt_details(
    fields: Mapping[str, Any], reason_code: str, reason_description: str, price: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`reasonCode`, `reasonDescription` and `price` from the provider's fields of those
    names, in the served schema's types ("" is no value). A value that cannot take its type
    (an object, a list; a boolean price) is not dropped: it comes back in the second dict,
    under its provider name, for `data`."""
    named = {"reasonCode": reason_code, "reasonDescription": reason_description, "price": price}
    details: dict[str, Any] = {}
    unfit: dict[str, Any] = {}
    for member, name in named.items():
        value = fields.get(name)
        if value == "":
            value = None
        if not _fits(member, value):
            unfit[name], value = value, None
        details[member] = value if member == "price" or value is None else _text(value)
    return details, unfit
