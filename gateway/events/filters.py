"""Event-type filters shared by websocket sessions and subscribers: an exact type
(`receipt:delivered`), a family (`message`, `receipt`, `event`, `consent`) or `*`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

FAMILIES = frozenset({"message", "receipt", "event", "consent"})
FILTER_PATTERN = r"^(\*|(message|receipt|event|consent)(:\S([\s\S]*\S)?)?)(?![\s\S])"
"""What `check_filter` accepts, as a JSON Schema pattern for the API's documents. It ends
with "nothing follows" rather than `$`, which Python's `re` also matches before a final
newline."""


def check_filter(value: str) -> str:
    """Return the filter if it is well formed, else raise ValueError saying why."""
    if value == "*" or value in FAMILIES:
        return value
    family, sep, name = value.partition(":")
    if sep and family in FAMILIES and name and name.strip() == name:
        return value
    raise ValueError(
        f"'{value}' is not an event type, a family ({', '.join(sorted(FAMILIES))}) or *"
    )


class TypeFilter:
    """A compiled set of filters: one set lookup per event instead of a scan of the list."""

    __slots__ = ("_all", "_exact", "_families")

    def __init__(self, filters: Iterable[str]) -> None:
        values = {check_filter(value) for value in filters}
        self._all = "*" in values
        self._families = frozenset(value for value in values if value in FAMILIES)
        self._exact = frozenset(values - self._families - {"*"})

    def matches(self, event_type: str) -> bool:
        if self._all or event_type in self._exact:
            return True
        family, _, _ = event_type.partition(":")
        return family in self._families


EventFilter = Annotated[
    str,
    AfterValidator(check_filter),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": FILTER_PATTERN,
            "description": "An event type (`message:customer`), a family (`message`, "
            "`receipt`, `event`, `consent`) or `*`.",
        }
    ),
]
"""A filter in a request model: checked by `check_filter`, described by its pattern."""
