"""What a route says about itself beyond its method and path: its request, its answers and
the errors it may give. Every `Route` carries one, and the OpenAPI document
(`gateway.reference.openapi`) is generated from them and nothing else.

Bodies and answers are pydantic models wherever a model describes them: request models are
the very ones the handler validates with, response models describe what the handler builds
(the schema tests validate real answers against them). A body no model describes (text, a
provider's signed webhook) gives its OpenAPI media objects as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

JSON = "application/json"

MediaObjects = Mapping[str, Mapping[str, Any]]
"""OpenAPI media objects by media type: `{"text/plain": {"schema": {...}}}`."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer a route gives (errors are listed by code instead, see `Operation`)."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    """The JSON body's model; no model and no `content` means no body."""
    content: MediaObjects | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    """Response headers beyond those every answer has: name -> description."""


@dataclass(frozen=True, slots=True)
class Body:
    """The request body: a JSON object validated by `model`, or `content` as it is."""

    model: type[BaseModel] | None = None
    content: MediaObjects | None = None
    required: bool = True
    description: str = ""


@dataclass(frozen=True, slots=True)
class Operation:
    """`tag` groups operations in the reference; `errors` are the error codes (see
    `gateway.errors.ERROR_CODES`) the route may answer with besides those every route of its
    kind has: 401 `unauthorized` on admin routes, and `invalid_json`, `invalid_payload` and
    `payload_too_large` where a JSON body is read. `query` is a model of the query string
    the handler parses with. `parameters` and `security` are OpenAPI objects for what no
    model says (request headers, the schemes of a public route)."""

    tag: str
    answers: tuple[Answer, ...]
    errors: tuple[str, ...] = ()
    body: Body | None = None
    query: type[BaseModel] | None = None
    description: str = ""
    parameters: tuple[Mapping[str, Any], ...] = ()
    security: tuple[Mapping[str, list[str]], ...] | None = None
    """None: the admin key on admin routes, nothing on public ones."""
