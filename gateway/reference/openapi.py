"""The OpenAPI 3.1 document, generated from the route table and nothing else.

Each `Route` row says its method, path, access, name and summary, and its `Operation` what it
takes and answers: request and response models, query models, the error codes it may give.
Paths, parameters, bodies, responses, error responses and security all come from those rows,
so a route cannot exist undocumented and a model cannot change without the document
following. `docs/openapi.json` is this document as committed (a test compares them), and
`GET /openapi.json` serves it.

Error responses: for each status among an operation's error codes, one response whose body
is the error format with `code` limited to that operation's codes of that status, and the
`UC-REST-ERROR` header. Every response carries `X-Request-Id`; admin routes add 401, JSON
bodies add 400 `invalid_json`/`invalid_payload` and 413, and every route may answer 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

import gateway
from gateway.delivery import openapi as outbound
from gateway.errors import ERROR_CODES
from gateway.http.errors import ERROR_HEADER, ErrorBody
from gateway.http.operation import JSON, Answer, Operation
from gateway.http.request_id import HEADER as REQUEST_ID_HEADER
from gateway.http.routes import Route
from gateway.inbound import openapi as inbound
from gateway.reference.schemas import ModelUse, Schema, component_schemas, document_schema

TITLE = "webhook-gateway"
DESCRIPTION = """\
A webhook and websocket event gateway. Providers post signed webhooks to \
`POST /webhooks/{integration_id}`; the gateway verifies each on its raw bytes, normalises it \
into one activity-event shape, stores it exactly once, and fans it out to agent websockets \
(`GET /ws`) and to subscriber webhooks.

**Authentication.** Admin routes take `Authorization: Bearer <admin key>` (the key configured \
as `GATEWAY_ADMIN_KEY`, or printed at start-up); anything else is 401, and 429 once one \
address has failed 20 times in a minute. Webhooks are authenticated by their integration's \
credential, the websocket by an agent token.

**Errors.** Every error is `{"error": {"code": "snake_case", "message": "..."}}` with a fitting \
status and the same message in the `UC-REST-ERROR` header; each operation lists the codes it \
may answer with; a method a path does not take is 405 `method_not_allowed` with `Allow`. \
Requests refused before any route sees them (malformed HTTP 400 `bad_request`, headers too \
large 431, the connection cap 503) are answered in the same format; `docs/security.md` \
lists every limit. Every response carries `X-Request-Id` (the request's own when it sent \
one).

**Paging.** Lists are `{pageNumber, pageSize, total, results}`: `pageNumber` from 0, \
`pageSize` 1 to 100 (50 by default); a page past the end has no results.

**Times** are RFC 3339 UTC with milliseconds (`2026-12-03T16:30:00.123Z`).

The agent websocket's frames are described by the AsyncAPI document `docs/asyncapi.yaml` and \
`docs/websocket.md`; what subscribers receive by `docs/subscribers.md` and the `webhooks` \
of this document."""

TAGS = (
    ("Webhooks", "What providers post."),
    ("Integrations", "Inbound sources: one per provider account, with its credential."),
    ("Subscribers", "Outbound webhooks: signed, filtered, retried, replayable."),
    ("Agents", "Agent tokens, the agent websocket, presence."),
    ("Console", "The agent console and the browser client library."),
    ("Operations", "Liveness, readiness, metrics."),
    ("Reference", "What the gateway says about itself."),
)

SECURITY_SCHEMES: dict[str, Schema] = {
    "adminKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "The admin key (`GATEWAY_ADMIN_KEY`).",
    },
    "agentToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An agent token: from `PUT /agent/auth`, or minted elsewhere with the "
        "configured key (claims `sub`, `exp`, `aud`, `hubs`, optionally `conversations` and "
        "`name`).",
    },
    **inbound.SECURITY_SCHEMES,
}

HEADERS: dict[str, Schema] = {
    REQUEST_ID_HEADER: {
        "description": "The request's id: the one it sent, else one the gateway made.",
        "required": True,
        "schema": {"type": "string"},
    },
    ERROR_HEADER: {
        "description": "The error's message, on one line.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "string"},
    },
}

_PATH_PARAMETER = re.compile(r"\{([^}]+)\}")


def _header(name: str) -> Schema:
    return {"$ref": f"#/components/headers/{name}"}


def _model_uses(routes: Iterable[Route]) -> list[ModelUse]:
    uses: list[ModelUse] = [(ErrorBody, "serialization"), *outbound.MODEL_USES]
    for route in routes:
        operation = route.operation
        if operation.body is not None and operation.body.model is not None:
            uses.append((operation.body.model, "validation"))
        uses += [(answer.model, "serialization") for answer in operation.answers if answer.model]
    return list(dict.fromkeys(uses))


def _path_parameters(path: str) -> list[Schema]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": f"The {re.sub(r'_?[iI]d$', '', name)}'s id.",
            "schema": {"type": "string"},
        }
        for name in _PATH_PARAMETER.findall(path)
    ]


def _query_parameters(model: type[BaseModel] | None) -> list[Schema]:
    """A query model's fields as parameters (a query value is never null: an optional
    field's `null` alternative is left out). An empty value counts as absent (see
    `parse_query`), which `allowEmptyValue` says."""
    if model is None:
        return []
    schema = document_schema(model)
    required = set(schema.get("required", ()))
    parameters = []
    for name, field in schema["properties"].items():
        field = dict(field)
        description = field.pop("description", None)
        alternatives = [item for item in field.pop("anyOf", ()) if item != {"type": "null"}]
        if len(alternatives) == 1:
            field.update(alternatives[0])
        if "default" in field and field["default"] is None:
            del field["default"]
        parameter: Schema = {"name": name, "in": "query", "required": name in required}
        if name not in required:
            parameter["allowEmptyValue"] = True
        if description:
            parameter["description"] = description
        parameters.append({**parameter, "schema": field})
    return parameters


def _answer(answer: Answer, refs: dict[ModelUse, Schema]) -> Schema:
    response: Schema = {"description": answer.description}
    headers = {REQUEST_ID_HEADER: _header(REQUEST_ID_HEADER)}
    headers |= {
        name: {"description": text, "schema": {"type": "string"}}
        for name, text in answer.headers.items()
    }
    response["headers"] = headers
    if answer.model is not None:
        response["content"] = {JSON: {"schema": refs[(answer.model, "serialization")]}}
    elif answer.content is not None:
        response["content"] = {media: dict(obj) for media, obj in answer.content.items()}
    return response


def _error_codes(route: Route) -> list[str]:
    operation = route.operation
    codes = list(operation.errors)
    if route.access == "admin":
        codes += ["unauthorized", "rate_limited"]  # wrong keys from one address are throttled
    if operation.body is not None:
        codes.append("request_timeout")
    if operation.body is not None and operation.body.model is not None:
        codes += ["invalid_json", "invalid_payload", "payload_too_large"]
    codes.append("internal_server_error")
    return sorted(set(codes), key=lambda code: (ERROR_CODES[code][0], code))


def _error_response(status: int, codes: Sequence[str]) -> Schema:
    lines = [f"- `{code}`: {ERROR_CODES[code][1]}" for code in codes]
    headers = {name: _header(name) for name in (REQUEST_ID_HEADER, ERROR_HEADER)}
    if status in (429, 503):
        headers["Retry-After"] = _header("Retry-After")
    narrowed = {"enum": list(codes)} if len(codes) > 1 else {"const": codes[0]}
    schema = {
        "allOf": [
            {"$ref": "#/components/schemas/ErrorBody"},
            {"properties": {"error": {"properties": {"code": narrowed}}}},
        ]
    }
    return {
        "description": "\n".join(lines),
        "headers": headers,
        "content": {JSON: {"schema": schema}},
    }


def _error_responses(codes: Sequence[str], shared: dict[str, Schema]) -> dict[str, Schema]:
    """References to the error responses of these codes, one per status; each distinct
    response is defined once in `shared` (`components.responses`), named by its codes."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(ERROR_CODES[code][0], []).append(code)
    references = {}
    for status, status_codes in by_status.items():
        name = "Or".join(code.title().replace("_", "") for code in status_codes)
        shared.setdefault(name, _error_response(status, status_codes))
        references[str(status)] = {"$ref": f"#/components/responses/{name}"}
    return references


def _security(route: Route) -> list[Schema]:
    operation: Operation = route.operation
    if operation.security is not None:
        return [dict(requirement) for requirement in operation.security]
    return [{"adminKey": []}] if route.access == "admin" else []


def _operation(route: Route, refs: dict[ModelUse, Schema], shared: dict[str, Schema]) -> Schema:
    operation = route.operation
    document: Schema = {
        "operationId": route.name,
        "summary": route.summary,
        "tags": [operation.tag],
    }
    if operation.description:
        document["description"] = operation.description
    by_place = {
        (parameter["name"], parameter["in"]): parameter
        for parameter in [
            *_path_parameters(route.path),
            *_query_parameters(operation.query),
            *(dict(parameter) for parameter in operation.parameters),
        ]
    }
    parameters = list(by_place.values())  # the operation's own replace the derived ones
    if parameters:
        document["parameters"] = parameters
    body = operation.body
    if body is not None:
        request: Schema = {"required": body.required}
        if body.description:
            request["description"] = body.description
        if body.model is not None:
            request["content"] = {JSON: {"schema": refs[(body.model, "validation")]}}
        else:
            request["content"] = {media: dict(obj) for media, obj in (body.content or {}).items()}
        document["requestBody"] = request
    responses = {str(answer.status): _answer(answer, refs) for answer in operation.answers}
    errors = _error_responses(_error_codes(route), shared)
    document["responses"] = {
        status: responses.get(status) or errors[status]
        for status in sorted({*responses, *errors}, key=int)
    }
    document["security"] = _security(route)
    return document


def openapi_document(routes: Sequence[Route]) -> dict[str, Any]:
    """The document of these routes (the app's route table, in its order)."""
    refs, schemas = component_schemas(_model_uses(routes))
    responses: dict[str, Schema] = {}
    paths: dict[str, dict[str, Schema]] = {}
    for route in routes:
        operation = _operation(route, refs, responses)
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": gateway.__version__,
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/", "description": "The gateway serving this document."}],
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "security": [{"adminKey": []}],
        "paths": paths,
        "webhooks": outbound.webhooks(refs),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "responses": dict(sorted(responses.items())),
            "securitySchemes": SECURITY_SCHEMES,
            "headers": HEADERS,
        },
    }
