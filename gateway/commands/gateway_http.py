"""The commands' HTTP calls to a running gateway: small, synchronous (a command does one
thing at a time), and every failure a one-line `CommandError`."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from gateway.commands import CommandError
from gateway.config import Settings

TIMEOUT_SECONDS = 15.0
EXCERPT_CHARS = 200


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error_message(self) -> str:
        """The gateway's `{"error": {"code", "message"}}` as one line; anything else (an
        HTML page from a proxy, ...) as the start of its text, whitespace collapsed."""
        try:
            error = json.loads(self.body)["error"]
            return one_line(f"{self.status} {error['code']}: {error['message']}")
        except (ValueError, KeyError, TypeError):
            return one_line(f"{self.status} {self.body.decode('utf-8', 'replace')}")


def one_line(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text` with every run of whitespace (newlines too) one space, cut to `limit`."""
    collapsed = " ".join(text.split())
    return collapsed if len(collapsed) <= limit else collapsed[: limit - 1] + "…"


def gateway_url(given: str | None, settings: Settings) -> str:
    """`--url` when given, else where the configuration says the gateway is."""
    if given:
        url = given
    elif settings.public_url:
        url = settings.public_url
    else:
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        host = f"[{host}]" if ":" in host else host
        url = f"http://{host}:{settings.port}"
    if not url.startswith(("http://", "https://")):
        raise CommandError(f"--url must be an http:// or https:// URL, not {url!r}")
    return url.rstrip("/")


def admin_key(settings: Settings) -> str:
    if not settings.admin_key:
        raise CommandError(
            "no admin key configured: set GATEWAY_ADMIN_KEY (or admin_key in the configuration)"
        )
    return settings.admin_key


def call(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request; any HTTP status is an answer, a network failure a `CommandError`."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310 - http(s) checked by gateway_url
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return Answer(response.status, response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.read())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CommandError(f"cannot reach {url}: {reason}") from None


def admin_json(method: str, url: str, key: str, payload: Any | None = None) -> Any:
    """An admin API call whose answer must be a success; its JSON body."""
    headers = {"Authorization": f"Bearer {key}"}
    body = None
    if payload is not None:
        body = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    answer = call(method, url, body=body, headers=headers)
    if not answer.ok:
        raise CommandError(f"{method} {url}: {answer.error_message()}")
    try:
        return json.loads(answer.body)
    except ValueError:
        excerpt = one_line(answer.body.decode("utf-8", "replace"))
        raise CommandError(f"{method} {url}: {answer.status} but not JSON: {excerpt}") from None
