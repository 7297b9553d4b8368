"""Prometheus metrics (README, Operations), one registry per running app (tests run several).

Under `serve --workers N` every worker counts in prometheus-client's multiprocess mode:
the supervisor gives each the same directory (`PROMETHEUS_MULTIPROC_DIR`, set before
prometheus-client is imported), each worker's values live in files there, and a scrape of
any worker reads every file, so `/metrics` answers for the whole host. Counters and
histograms add up across workers (a dead worker's counts stay in the totals); each gauge
says how it combines: open sessions add up over the live workers, and the engine's figures,
which every worker reads from the same engine, are the latest any live worker read.
"""

from __future__ import annotations

import os
from typing import Final, Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
AcrossWorkers = Literal["livesum", "livemax", "livemostrecent"]
PER_PROCESS: Final = "livesum"
"""A gauge of what a process holds (its sessions): the host's figure is the live workers' sum."""
FURTHEST_BEHIND: Final = "livemax"
"""A gauge of how far behind a process is: the host's figure is its slowest live worker's."""
ENGINE_WIDE: Final = "livemostrecent"
"""A gauge of the engine's state, which every worker reads the same: the latest one read."""

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


def _gauge(
    name: str, documentation: str, across_workers: AcrossWorkers, registry: CollectorRegistry
) -> Gauge:
    """Every gauge says how it combines across the workers of `serve --workers N`."""
    return Gauge(name, documentation, registry=registry, multiprocess_mode=across_workers)


class Metrics:
    """Every metric the gateway exports; features update the ones that are theirs."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._request_series: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}
        r = self.registry
        self.http_requests = Counter(
            "gateway_http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "gateway_http_request_duration_seconds",
            "HTTP request latency by route and status",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.http_refused = Counter(
            "gateway_http_refused",
            "Connections refused at the connection cap, and connections and requests cut "
            "off by the header, body or send deadline",
            ["reason"],
            registry=r,
        )
        self.webhooks = Counter(
            "gateway_webhooks",
            "Inbound webhooks by integration kind and outcome",
            ["kind", "outcome"],
            registry=r,
        )
        self.events_stored = Counter(
            "gateway_events_stored", "Activity events stored in the event log", registry=r
        )
        self.duplicates = Counter(
            "gateway_duplicates", "Provider events received again and dropped", registry=r
        )
        self.ws_sessions = _gauge(
            "gateway_ws_sessions",
            "Open authenticated agent websocket sessions",
            PER_PROCESS,
            r,
        )
        self.ws_slow_disconnects = Counter(
            "gateway_ws_slow_disconnects",
            "Sessions closed 4008 for an unsent backlog",
            registry=r,
        )
        self.ws_unauthenticated = _gauge(
            "gateway_ws_unauthenticated",
            "Agent websockets open and still waiting for their auth frame",
            PER_PROCESS,
            r,
        )
        self.ws_refused = Counter(
            "gateway_ws_refused",
            "Agent websockets refused or ended for a limit: upgrades refused at the cap on "
            "unauthenticated websockets, sessions closed 4429 for a client-frame flood",
            ["reason"],
            registry=r,
        )
        self.deliveries = Counter(
            "gateway_deliveries",
            "Subscriber delivery attempts by outcome",
            ["outcome"],
            registry=r,
        )
        self.delivery_queue_depth = _gauge(
            "gateway_delivery_queue_depth",
            "Deliveries waiting in the queue",
            ENGINE_WIDE,
            r,
        )
        # What the engine holds, shared by every process on it (each reports the same):
        # refreshed by the retention loop, so a scrape costs no engine round trip.
        self.event_log_events = _gauge(
            "gateway_event_log_events",
            "Events held in the event log",
            ENGINE_WIDE,
            r,
        )
        self.event_log_bytes = _gauge(
            "gateway_event_log_bytes",
            "Bytes of the events held in the event log",
            ENGINE_WIDE,
            r,
        )
        self.delivery_queued_bytes = _gauge(
            "gateway_delivery_queued_bytes",
            "Bytes of the deliveries queued",
            ENGINE_WIDE,
            r,
        )
        self.delivery_dead_bytes = _gauge(
            "gateway_delivery_dead_bytes",
            "Bytes of the dead letters kept for replay",
            ENGINE_WIDE,
            r,
        )
        self.delivery_oldest_due = _gauge(
            "gateway_delivery_oldest_due_seconds",
            "How long the longest-waiting due delivery has been due",
            ENGINE_WIDE,
            r,
        )
        self.delivery_overflowed = _gauge(
            "gateway_delivery_overflowed_total",
            "Queued deliveries turned dead by a subscriber's queued-bytes cap (engine-wide)",
            ENGINE_WIDE,
            r,
        )
        self.dead_letters_dropped = _gauge(
            "gateway_dead_letters_dropped_total",
            "Dead letters dropped by a subscriber's dead-letter caps (engine-wide)",
            ENGINE_WIDE,
            r,
        )
        self.enqueuer_leader = _gauge(
            "gateway_delivery_enqueuer_leader",
            "1 while this process holds the enqueuer's lease and fills the delivery queue "
            "(one process of all sharing the engine at a time)",
            PER_PROCESS,
            r,
        )
        self.redis_errors = Counter(
            "gateway_redis_errors",
            "Calls to Redis that failed as unavailable (connection lost, timeout, a "
            "not-now reply such as READONLY or OOM); 0 on the memory engine",
            registry=r,
        )
        self.redis_reader_lag = _gauge(
            "gateway_redis_reader_lag_seconds",
            "How far this process's event stream reader is behind: the age of the oldest "
            "event of its last read (0 when it found nothing new); while Redis is "
            "unreachable, the time since its last read; 0 on the memory engine",
            FURTHEST_BEHIND,
            r,
        )
        self.ingest_to_fanout = Histogram(
            "gateway_ingest_to_fanout_seconds",
            "From a webhook's arrival to its fan-out",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one HTTP request. Methods outside the standard set are `other`, so a client
        inventing methods cannot grow the series without bound; the labelled children are
        kept, as looking them up is most of what a count costs."""
        key = (method if method in _METHODS else "other", route, str(status))
        series = self._request_series.get(key)
        if series is None:
            series = (self.http_requests.labels(*key), self.http_latency.labels(*key))
            self._request_series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self._exposed)

    @property
    def _exposed(self) -> CollectorRegistry:
        """This app's registry, or under workers one reading every worker's files."""
        directory = os.environ.get(MULTIPROCESS_DIR)
        if not directory:
            return self.registry
        host = CollectorRegistry()
        MultiProcessCollector(host, directory)  # type: ignore[no-untyped-call]
        return host
