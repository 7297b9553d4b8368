"""The HTTP sender: one POST per attempt through a connector that only reaches allowed
addresses, with a total timeout, no redirects, and at most 64 KiB of any response read."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from gateway.delivery.formats import OutboundRequest
from gateway.delivery.outcome import SendResult
from gateway.delivery.ssrf import GuardedResolver, Resolver, TargetRefused, ip_literal, is_public

MAX_RESPONSE_BYTES = 65536


class HttpSender:
    def __init__(
        self, resolver: Resolver, *, allow_private: bool, timeout: float, max_connections: int
    ) -> None:
        self._allow_private = allow_private
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(resolver, allow_private),
            use_dns_cache=False,
            limit=max_connections,
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, trust_env=False
        )

    async def send(self, url: str, request: OutboundRequest) -> SendResult:
        refused = self._literal_refusal(url)
        if refused is not None:
            return SendResult(None, refused)
        try:
            async with self._session.post(
                url, data=request.body, headers=request.headers, allow_redirects=False
            ) as response:
                await response.content.read(MAX_RESPONSE_BYTES)
                return SendResult(response.status, None, response.headers.get("Retry-After"))
        except TimeoutError:
            return SendResult(None, f"timed out after {self._timeout.total} s")
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, TargetRefused):
                return SendResult(None, f"refused: {exc.os_error}")
            return SendResult(None, f"connection failed: {exc.os_error}")
        except (aiohttp.ClientError, OSError) as exc:
            return SendResult(None, f"request failed: {type(exc).__name__}: {exc}")

    def _literal_refusal(self, url: str) -> str | None:
        """aiohttp connects to an IP literal without asking the resolver: check it here."""
        literal = ip_literal(urlsplit(url).hostname or "")
        if literal is None or self._allow_private or is_public(literal):
            return None
        return f"refused: {literal} is not a public address"

    async def close(self) -> None:
        await self._session.close()
