"""Hubster paging: `{pageNumber, pageSize, total, results}`, pageNumber >= 0, pageSize 1..100.

The query string of a list route is read into a model (`PageQuery` or one extending it), the
same model the OpenAPI document describes its parameters with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import describe_validation_error, invalid_payload

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100

QueryT = TypeVar("QueryT", bound="PageQuery")
ItemT = TypeVar("ItemT")


class PageQuery(BaseModel):
    """Which page of a list: `pageNumber` counts from 0, a page past the end is empty."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    pageNumber: int = Field(0, ge=0, description="The page, from 0.")
    pageSize: int = Field(
        DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Results per page."
    )

    def of(self, items: Sequence[Any]) -> dict[str, Any]:
        start = self.pageNumber * self.pageSize
        return {
            "pageNumber": self.pageNumber,
            "pageSize": self.pageSize,
            "total": len(items),
            "results": list(items[start : start + self.pageSize]),
        }


def parse_query(request: web.Request, model: type[QueryT]) -> QueryT:
    """The query string as `model`, or 400 `invalid_payload` naming the parameter. An empty
    value counts as absent; of a repeated parameter the first value counts."""
    first: dict[str, str] = {}
    for name, value in request.query.items():
        if value != "":
            first.setdefault(name, value)
    try:
        return model.model_validate(first)
    except ValidationError as exc:
        raise invalid_payload(describe_validation_error(exc)) from None


def page_from(request: web.Request) -> PageQuery:
    return parse_query(request, PageQuery)


class ResultsPage(BaseModel, Generic[ItemT]):
    """A page of results (the response model of a list route: subclass it as
    `class IntegrationPage(ResultsPage[IntegrationView])` so it has a name of its own)."""

    model_config = ConfigDict(extra="forbid")

    pageNumber: int = Field(ge=0)
    pageSize: int = Field(ge=1, le=MAX_PAGE_SIZE)
    total: int = Field(ge=0, description="How many results there are on all pages.")
    results: list[ItemT]
