"""Verify-only handler: what a competent engineer writes with aiohttp and the
`standardwebhooks` library in an afternoon. It reads the body, checks the Standard Webhooks
signature (`Webhook.verify`, without parsing the JSON it does not use) and answers 202:
none of the gateway's normalising, storing, dedup, metrics or access log.

The secret comes from `BENCH_WEBHOOK_SECRET` (the gateway integration's own, so both sides
verify the same signed requests)."""

from __future__ import annotations

import os

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = web.AppKey("webhook", Webhook)


async def receive(request: web.Request) -> web.Response:
    body = await request.read()
    try:
        # The library reads headers with .items() (any mapping); it annotates a dict.
        request.app[SECRET].verify(body, request.headers, json_parse=False)  # type: ignore[arg-type]
    except WebhookVerificationError:
        return web.Response(status=401)
    return web.Response(status=202)


def build() -> web.Application:
    app = web.Application(client_max_size=1 << 20)
    app[SECRET] = Webhook(os.environ["BENCH_WEBHOOK_SECRET"])
    app.router.add_post("/{tail:.*}", receive)
    return app
