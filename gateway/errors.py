"""The gateway's one error root: every refusal, wherever it is raised, is a `GatewayError`.

A `GatewayError` carries what the client is told: a snake_case `code`, a human-readable
`message`, the HTTP `status` and any headers the answer needs (`Retry-After`). This module
imports no aiohttp, so the pure core (provider adapters, credentials, token and scope rules)
raises the same errors the HTTP shell answers with. Two layers turn them into wire answers,
each in one place: `gateway.http.errors` renders any of them in the error format
(`{"error": {"code", "message"}}` plus the `UC-REST-ERROR` header), and `gateway.ws.frames`
maps them to the websocket's error frames and close codes.

The tree::

    GatewayError(code, message, status)   any refusal; admin API errors are plain instances
    ├── InboundError                      a provider webhook refused by its adapter
    ├── TokenError                        an agent JWT that cannot be used (401
    │                                     `unauthorized` or `expired_token`)
    ├── AccessDenied                      asking beyond an agent's grant (403 `access_denied`)
    ├── ContentEncodingError              a body that does not decode as its
    │                                     Content-Encoding says (400 `invalid_payload`)
    ├── UnencodableActivity               an activity holding a value JSON cannot carry
    │                                     (400 `invalid_payload`)
    ├── Unavailable                       shared state out of reach (503 `unavailable`)
    │   ├── EngineUnavailable             raised by engines (gateway.engine.base)
    │   │   ├── RedisAnswered             Redis answered, not as needed; the connection is
    │   │   │   │                         sound (gateway.engine.redis.connection)
    │   │   │   └── ReplicasBehind        fewer Redis replicas than asked for have a write
    │   │   │                             (gateway.engine.redis.events)
    │   │   └── SealError                 stored credentials this process's master keys
    │   │                                 cannot open (gateway.credentials.sealing)
    │   └── RegistryConflict              a record that kept changing through every
    │                                     compare-and-set try (gateway.engine.registry)
    └── ClientGone                        the client closed the connection before the
                                          answer (`cancelled`, counted as status 499)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import ValidationError


class GatewayError(Exception):
    """A refusal the client is told about; `str()` is the message, never a secret."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.headers: Mapping[str, str] = dict(headers or {})


class InboundError(GatewayError):
    """A provider webhook refused by the pure adapter reading it."""

    @classmethod
    def invalid_payload(cls, message: str) -> InboundError:
        """400 `invalid_payload`; the message starts with the field (`event.timestamp: ...`)."""
        return cls("invalid_payload", message, 400)

    @classmethod
    def invalid_json(cls) -> InboundError:
        return cls("invalid_json", INVALID_JSON_MESSAGE, 400)


class TokenError(GatewayError):
    """An agent token that cannot be used: `code` is `unauthorized` or `expired_token`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, 401)


class AccessDenied(GatewayError):
    """Hubs or conversations asked for that the agent's token does not grant."""

    def __init__(self, message: str) -> None:
        super().__init__("access_denied", message, 403)


class ContentEncodingError(GatewayError):
    """A request body that does not decode as its Content-Encoding says."""

    def __init__(self) -> None:
        super().__init__(
            "invalid_payload", "body: cannot be decoded as its Content-Encoding says.", 400
        )


class UnencodableActivity(GatewayError):
    """An activity holding a value JSON cannot carry (an integer past 64 bits, ...): the
    input's fault, so a 400 naming the field, never a 500. The message starts with the path."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_payload", message, 400)


class Unavailable(GatewayError):
    """Shared state cannot be reached: nothing was accepted, and the caller should retry.
    `detail` says what failed, for the logs and `str()`; the client gets the fixed
    `MESSAGE` (each subclass its own)."""

    RETRY_AFTER_SECONDS = 5
    MESSAGE = "The event store is unavailable; retry later."

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "unavailable",
            self.MESSAGE,
            503,
            {"Retry-After": str(self.RETRY_AFTER_SECONDS)},
        )
        self.detail = detail
        if detail:
            self.args = (detail,)


class ClientGone(GatewayError):
    """The client closed the connection before its request was answered (mid-body): no one
    is left to tell, so it is counted, not answered. The status is nginx's 499 "client
    closed request", which never reaches a client: metrics count it apart from the 4xx the
    gateway chose and the 5xx that are its own failures."""

    STATUS = 499

    def __init__(self) -> None:
        super().__init__(
            "cancelled", "The client closed the connection before the answer.", self.STATUS
        )


INVALID_JSON_MESSAGE = "The body is not valid JSON."

ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_json": (400, "The body is not valid JSON."),
    "invalid_payload": (400, "A field is missing or wrong; the message starts with its name."),
    "bad_request": (400, "Not a request this route can take (a plain GET of the websocket)."),
    "unauthorized": (401, "The credential is missing or not accepted."),
    "expired_token": (401, "The agent token has expired."),
    "signature_invalid": (403, "A signature is present but wrong or malformed."),
    "timestamp_out_of_tolerance": (403, "The signed timestamp is too far from now."),
    "not_found": (404, "Nothing has this id."),
    "method_not_allowed": (405, "The route does not take this method."),
    "request_timeout": (408, "The body did not arrive in time; the connection is closed."),
    "integration_paused": (409, "The integration is paused (statusId 3002)."),
    "payload_too_large": (413, "The body, or what it holds, is over a size limit."),
    "unsupported_media_type": (415, "The Content-Type or Content-Encoding is not accepted."),
    "rate_limited": (429, "Too many requests: retry after `Retry-After` seconds."),
    "internal_server_error": (500, "A fault of the gateway; the message names the request id."),
    "unavailable": (
        503,
        "The event store is unreachable, or a record kept changing; nothing was done, retry.",
    ),
}
"""Every error code an HTTP route answers with: its status and what it means. The OpenAPI
document lists, for each operation, the codes it may answer with under their statuses
(`method_not_allowed` is the router's answer to any path, with `Allow`)."""


def rate_limited(message: str, wait_seconds: float) -> GatewayError:
    """429 `rate_limited`; `Retry-After` is the wait in whole seconds, at least 1."""
    retry_after = max(1, math.ceil(wait_seconds))
    return GatewayError("rate_limited", message, 429, {"Retry-After": str(retry_after)})


def unauthorized(message: str = "Missing or invalid credentials.") -> GatewayError:
    return GatewayError("unauthorized", message, 401)


def not_found(message: str = "Not found.") -> GatewayError:
    return GatewayError("not_found", message, 404)


def invalid_payload(message: str) -> GatewayError:
    """400 `invalid_payload`; the message names the field first (`url: ...`)."""
    return GatewayError("invalid_payload", message, 400)


def invalid_json() -> GatewayError:
    return GatewayError("invalid_json", INVALID_JSON_MESSAGE, 400)


def describe_validation_error(exc: ValidationError) -> str:
    """The first problem, naming its field: `hubIds.0: Input should be a valid string`."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])
