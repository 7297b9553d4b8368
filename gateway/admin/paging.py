"""Hubster paging: `{pageNumber, pageSize, total, results}`, pageNumber >= 0, pageSize 1..100."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.errors import invalid_payload

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    def of(self, items: Sequence[Any]) -> dict[str, Any]:
        start = self.number * self.size
        return {
            "pageNumber": self.number,
            "pageSize": self.size,
            "total": len(items),
            "results": list(items[start : start + self.size]),
        }


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid_payload(f"{name} must be an integer.") from None


def page_from(request: web.Request) -> Page:
    number = _int_param(request, "pageNumber", 0)
    size = _int_param(request, "pageSize", DEFAULT_PAGE_SIZE)
    if number < 0:
        raise invalid_payload("pageNumber must be 0 or more.")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise invalid_payload(f"pageSize must be between 1 and {MAX_PAGE_SIZE}.")
    return Page(number, size)
