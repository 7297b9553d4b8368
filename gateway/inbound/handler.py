"""`POST /webhooks/{integrationId}`: the checks in their documented order (docs/openapi.json),
then one all-or-nothing append of every activity the body holds.

A redelivery costs no more than its checks: once the body is verified and parsed, its
dedup keys are asked of the event log (`EventLog.seen`), and a webhook whose every key is
stored already is answered as a duplicate without being normalised. `append` stays the
authority: a webhook that was not seen a moment ago is normalised and appended, and the
append drops what another request stored meanwhile.
"""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from gateway.config import Settings
from gateway.engine import AppendResult
from gateway.errors import (
    ContentEncodingError,
    GatewayError,
    InboundError,
    not_found,
    rate_limited,
)
from gateway.events.encode import encode_all
from gateway.http.appkeys import ENGINE, METRICS, SETTINGS, TRUSTED_PROXIES
from gateway.http.body import read_limited
from gateway.http.forwarded import public_base_url
from gateway.inbound import hubster, scg, standard, telnyx, twilio
from gateway.inbound.base import Adapter, InboundRequest, Receiver, Webhook, too_many_activities
from gateway.inbound.media import accepted_media_type, is_compressed
from gateway.integrations.model import PAUSED, Integration
from gateway.integrations.routes import INTEGRATIONS
from gateway.integrations.store import CachedIntegration

ADAPTERS: dict[str, Adapter] = {
    "hubster-system": hubster.ADAPTER,
    "hubster-direct": hubster.ADAPTER,
    "scg": scg.ADAPTER,
    "standard": standard.ADAPTER,
    "telnyx": telnyx.ADAPTER,
    "twilio": twilio.ADAPTER,
}
"""Which adapter reads which integration kind."""


def signed_url(request: web.Request) -> str:
    """The URL the provider called: the public URL when configured, else the scheme and host
    a trusted proxy forwarded (behind a proxy the server's own view of them is not what the
    provider signed), else this server's own view."""
    app = request.app
    return public_base_url(request, app[SETTINGS], app[TRUSTED_PROXIES]) + request.raw_path


def _receiver(cached: CachedIntegration, now: float, settings: Settings) -> Receiver:
    integration = cached.integration
    return Receiver(
        integration.integration_id,
        integration.hub_id,
        integration.tenant_id,
        cached.credentials(int(now * 1000)),
        now,
        settings.max_activities_per_webhook,
    )


def _compressed_refused() -> GatewayError:
    """Webhooks are verified on the bytes the provider signed, which a decoded body is not
    (and an undecoded one cannot be parsed): any Content-Encoding but identity is 415. The
    connection is announced closed: aiohttp drops one whose body it could not decode."""
    message = "Webhooks must not be compressed: send them with no Content-Encoding."
    return GatewayError("unsupported_media_type", message, 415, {"Connection": "close"})


async def _read_body(request: web.Request, limit: int, compressed: bool) -> bytes:
    """The body within the limit (413 first, as the order says). A compressed body is read
    too, within the limit like every body (so a bomb is 413), then refused 415 whatever it
    holds, decodable or not."""
    try:
        body = await read_limited(request, limit)
    except ContentEncodingError:
        if compressed:
            raise _compressed_refused() from None
        raise
    if compressed:
        raise _compressed_refused()
    return body


async def _checked_body(
    request: web.Request, adapter: Adapter, receiver: Receiver, limit: int
) -> tuple[bytes, str]:
    """The body and its media type, with 413, 415 and a headers-only credential checked in
    the contract's order. When the declared length is within the limit, 413 cannot happen,
    so the media type and the credential are checked before the body is read (an
    unauthenticated sender's body is never read); otherwise the body is read, within the
    limit, first."""
    headers = request.headers
    content_type = headers.get("Content-Type")
    compressed = is_compressed(headers.get("Content-Encoding"))
    length = request.content_length
    if length is not None and length <= limit and not compressed:
        media_type = accepted_media_type(adapter, content_type)
        if adapter.authenticate is not None:
            adapter.authenticate(headers, receiver)
        return await _read_body(request, limit, compressed), media_type
    body = await _read_body(request, limit, compressed)
    return body, accepted_media_type(adapter, content_type)


async def _within_rate_limit(request: web.Request, integration: Integration) -> None:
    """The integration's `rateLimitPerSecond`, a second's worth at once, held across every
    process by the engine's throttle; checked before the body is read, so a sender over
    its limit costs no more than the lookup."""
    rate = integration.rate_limit_per_second
    if rate is None:
        return
    key = f"webhooks:{integration.integration_id}"
    wait = await request.app[ENGINE].throttle.take(key, rate, max(1.0, rate), time.time())
    if wait > 0:
        message = f"This integration accepts at most {rate:g} webhooks a second."
        raise rate_limited(message, wait)


def _dedup_keys(webhook: Webhook) -> list[str] | None:
    """The webhook's keys; None when reading them already finds the body wrong (normalising
    it then says what is wrong, in its own order of checks)."""
    try:
        return webhook.dedup_keys()
    except InboundError:
        return None


async def _accept(request: web.Request, cached: CachedIntegration) -> AppendResult:
    integration = cached.integration
    if integration.status_id == PAUSED:
        raise GatewayError("integration_paused", "This integration is paused.", 409)
    await _within_rate_limit(request, integration)
    app = request.app
    settings, events, metrics = app[SETTINGS], app[ENGINE].events, app[METRICS]
    adapter = ADAPTERS[integration.kind]
    receiver = _receiver(cached, time.time(), settings)
    body, media_type = await _checked_body(request, adapter, receiver, settings.max_body_bytes)
    url = signed_url(request) if adapter.signs_url else ""
    webhook = adapter.read(InboundRequest(request.headers, body, url, media_type), receiver)
    keys = _dedup_keys(webhook)
    if keys and all(await events.seen(keys)):
        metrics.duplicates.inc(amount=len(keys))
        return AppendResult(stored=[], duplicates=len(keys))
    metrics.normalised.inc()
    keyed = webhook.normalise()
    if len(keyed) > settings.max_activities_per_webhook:
        raise too_many_activities(len(keyed), settings.max_activities_per_webhook)
    encoded = encode_all(keyed, settings.max_normalised_bytes)
    result = await events.append(encoded, settings.dedup_seconds)
    metrics.events_stored.inc(amount=len(result.stored))
    metrics.duplicates.inc(amount=result.duplicates)
    return result


async def receive(request: web.Request) -> web.Response:
    """Every answer, whatever ends the request, is counted in gateway_webhooks_total by
    kind ("unknown" before the integration is known) and outcome (the error code;
    "cancelled" when the client went away before the answer)."""
    kind, outcome = "unknown", "cancelled"
    try:
        cached = await request.app[INTEGRATIONS].get(request.match_info["integration_id"])
        if cached is None:
            raise not_found("No integration with this id.")
        kind = cached.integration.kind
        result = await _accept(request, cached)
        accepted = len(result.stored)
        outcome = "accepted" if accepted else "duplicate"
        body = orjson.dumps({"accepted": accepted, "duplicates": result.duplicates})
        return web.Response(status=202, body=body, content_type="application/json")
    except GatewayError as exc:
        outcome = exc.code
        raise
    except Exception:
        outcome = "internal_server_error"
        raise
    finally:
        request.app[METRICS].webhooks.inc(kind, outcome)
