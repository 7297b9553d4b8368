"""What SMS providers (SCG, Twilio) share: one conversation per SMS thread, and consent
keywords."""

from __future__ import annotations

import uuid
from typing import Literal

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
    """The consent change and keyword an MO text asks for, if it is exactly a keyword."""
    keyword = text.strip().upper()
    consent = _KEYWORDS.get(keyword)
    return None if consent is None else (consent, keyword)
