"""The subscriber sink: answers 204 and records when each marked body arrived.

`GET /_stats` returns the count, first and last arrival, latency percentiles (arrival minus
the marker's send time) and how many connections the sender used (distinct client ports:
a sender's pool size is its concurrency); `POST /_reset` starts over for the next run.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field

from aiohttp import web

from bench.payloads import read_marker
from bench.stats import LatencySummary


@dataclass
class Arrivals:
    count: int = 0
    first_ns: int = 0
    last_ns: int = 0
    latencies_ms: array[float] = field(default_factory=lambda: array("d"))
    peers: set[object] = field(default_factory=set)


ARRIVALS = web.AppKey("arrivals", Arrivals)


async def receive(request: web.Request) -> web.Response:
    body = await request.read()
    arrived = time.time_ns()
    arrivals = request.app[ARRIVALS]
    arrivals.count += 1
    arrivals.first_ns = arrivals.first_ns or arrived
    arrivals.last_ns = arrived
    arrivals.peers.add(request.transport.get_extra_info("peername") if request.transport else None)
    found = read_marker(body)
    if found is not None:
        arrivals.latencies_ms.append((arrived - found[1]) / 1e6)
    return web.Response(status=204)


async def stats(request: web.Request) -> web.Response:
    arrivals = request.app[ARRIVALS]
    summary = LatencySummary.of(arrivals.latencies_ms).to_json()
    return web.json_response(
        {
            "count": arrivals.count,
            "firstNs": arrivals.first_ns,
            "lastNs": arrivals.last_ns,
            "latency": summary,
            "connections": len(arrivals.peers),
        }
    )


async def reset(request: web.Request) -> web.Response:
    request.app[ARRIVALS] = Arrivals()
    return web.Response(status=204)


def build() -> web.Application:
    app = web.Application(client_max_size=1 << 20)
    app[ARRIVALS] = Arrivals()
    app.router.add_get("/_stats", stats)
    app.router.add_post("/_reset", reset)
    app.router.add_post("/{tail:.*}", receive)
    return app
