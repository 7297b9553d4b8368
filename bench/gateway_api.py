"""Set-up calls to a running gateway through its admin API (docs/openapi.json), outside any timing.

A route the build does not have (404/405) raises `FeatureMissing`, which a scenario reports
as "skipped: feature not in this build" rather than as a failure.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp

from bench.payloads import Provider
from bench.procs import Server

MISSING_STATUSES = (404, 405)


@dataclass(frozen=True, slots=True)
class BenchIntegration:
    integration_id: str
    hub_id: str
    secret: str
    """The Hubster private signing key, or the Standard Webhooks `whsec_` secret."""
    provider: Provider

    def webhook_fields(self, server: Server) -> dict[str, Any]:
        """The fields every webhook-sending job takes: where to post, and how to sign."""
        return {
            "host": server.host,
            "port": server.port,
            "path": f"/webhooks/{self.integration_id}",
            "hub_id": self.hub_id,
            "secret": self.secret,
            "provider": self.provider,
        }


class FeatureMissing(Exception):
    """The gateway under test does not serve a route the scenario needs."""


class SetupFailed(Exception):
    """The gateway answered a set-up call with an unexpected error."""


class GatewayApi:
    def __init__(self, base_url: str, admin_key: str) -> None:
        self.base_url = base_url
        self._session = aiohttp.ClientSession(
            base_url, headers={"Authorization": f"Bearer {admin_key}"}
        )

    async def __aenter__(self) -> GatewayApi:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._session.close()

    async def _call(self, method: str, path: str, feature: str, body: Any) -> Any:
        async with self._session.request(method, path, json=body) as response:
            if response.status in MISSING_STATUSES:
                raise FeatureMissing(f"{feature} ({method} {path} answered {response.status})")
            if response.status >= 300:
                text = await response.text()
                raise SetupFailed(f"{method} {path} answered {response.status}: {text[:300]}")
            return await response.json()

    async def hubster_integration(self, hub_id: str | None = None) -> BenchIntegration:
        """A new Hubster Direct integration, on a hub of its own unless `hub_id` is given."""
        return await self._integration("hubster-direct", "privateSigningKey", "hubster", hub_id)

    async def standard_integration(self, hub_id: str | None = None) -> BenchIntegration:
        """A new Standard Webhooks integration with a generated `whsec_` secret."""
        return await self._integration("standard", "secret", "standard", hub_id)

    async def _integration(
        self, kind: str, secret_field: str, provider: Provider, hub_id: str | None
    ) -> BenchIntegration:
        hub_id = hub_id or str(uuid.uuid4())
        body = {"name": "bench", "kind": kind, "hubId": hub_id, "configuration": {}}
        created = await self._call("POST", "/integrations", "inbound webhooks", body)
        secret = created["configuration"][secret_field]
        return BenchIntegration(created["integrationId"], hub_id, secret, provider)

    async def agent_token(self, hub_id: str) -> str:
        body = {"agentId": "bench-agent", "hubIds": [hub_id], "ttlSeconds": 3600}
        answer = await self._call("PUT", "/agent/auth", "agent websockets", body)
        token: str = answer["agentAuth"]["jwt"]
        return token

    async def probe_websocket(self, token: str) -> None:
        """Open and close one session, so a missing /ws is found before any load starts."""
        await probe_websocket(self.base_url, {"Authorization": f"Bearer {token}"})

    async def replay(self, subscriber_id: str, since: str) -> int:
        """Queue every stored event since `since` (RFC 3339) for the subscriber again."""
        path = f"/subscribers/{subscriber_id}/replay"
        answer = await self._call("POST", path, "subscriber replay", {"since": since})
        enqueued: int = answer["enqueued"]
        return enqueued

    async def counters(self, *names: str) -> dict[str, float]:
        """Unlabelled counters from `/metrics` (each 0 when absent)."""
        async with self._session.get("/metrics") as response:
            text = await response.text()
        values = dict.fromkeys(names, 0.0)
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name in values:
                values[name] = float(value)
        return values

    async def subscriber(self, url: str) -> str:
        body = {"url": url, "events": ["*"], "format": "standard"}
        created = await self._call("POST", "/subscribers", "subscriber delivery", body)
        subscriber_id: str = created["subscriberId"]
        return subscriber_id


async def probe_websocket(base_url: str, headers: dict[str, str]) -> None:
    """Open one session at `/ws`, wait for its first frame, close it (also a warm-up)."""
    async with aiohttp.ClientSession(base_url) as session:
        try:
            async with session.ws_connect("/ws", headers=headers) as socket:
                await socket.receive(timeout=10)
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status in MISSING_STATUSES:
                raise FeatureMissing(f"agent websockets (GET /ws answered {exc.status})") from None
            raise SetupFailed(f"GET /ws answered {exc.status}") from None
