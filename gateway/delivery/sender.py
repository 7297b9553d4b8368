"""The HTTP sender: one POST per attempt through a connector that only reaches allowed
addresses, with a total timeout, no redirects, and at most 64 KiB of any response read.

Once the status line has come, the status is the outcome: the body is read (so the
connection can be reused) for at most `BODY_READ_SECONDS`, and a body that stalls or breaks
changes nothing, so a 2xx is never sent again for a slow body.

The connector has no connection limit of its own: the dispatcher bounds concurrency (and
keeps a share for every subscriber), which a shared connector limit would undo.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from yarl import URL

from gateway.delivery.formats import OutboundRequest
from gateway.delivery.outcome import SendResult
from gateway.delivery.ssrf import (
    GuardedResolver,
    Resolver,
    TargetRefused,
    ip_literal,
    is_public,
    url_host,
)

MAX_RESPONSE_BYTES = 65536
BODY_READ_SECONDS = 1.0
BODY_START_BYTES = 1024
"""How much of a response body a result keeps (a test send shows it)."""


class HttpSender:
    def __init__(self, resolver: Resolver, *, allow_private: bool, timeout: float) -> None:
        self._allow_private = allow_private
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(resolver, allow_private),
            use_dns_cache=False,
            limit=0,
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, trust_env=False
        )

    async def send(self, url: str, request: OutboundRequest) -> SendResult:
        try:
            target = URL(url)
        except ValueError as exc:
            return SendResult(None, f"invalid url: {exc}")
        refused = self._literal_refusal(target)
        if refused is not None:
            return SendResult(None, refused)
        try:
            async with self._session.post(
                target, data=request.body, headers=request.headers, allow_redirects=False
            ) as response:
                body = b""
                with contextlib.suppress(TimeoutError, aiohttp.ClientError):
                    async with asyncio.timeout(BODY_READ_SECONDS):
                        body = await response.content.read(MAX_RESPONSE_BYTES)
                retry_after = response.headers.get("Retry-After")
                return SendResult(response.status, None, retry_after, body[:BODY_START_BYTES])
        except TimeoutError:
            return SendResult(None, f"timed out after {self._timeout.total} s")
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, TargetRefused):
                return SendResult(None, f"refused: {exc.os_error}")
            return SendResult(None, f"connection failed: {exc.os_error}")
        except (aiohttp.ClientError, OSError) as exc:
            return SendResult(None, f"request failed: {type(exc).__name__}: {exc}")

    def _literal_refusal(self, url: URL) -> str | None:
        """aiohttp connects to an IP literal without asking the resolver: check it here."""
        literal = ip_literal(url_host(url))
        if literal is None or self._allow_private or is_public(literal):
            return None
        return f"refused: {literal} is not a public address"

    async def close(self) -> None:
        await self._session.close()
