"""Prometheus metrics (README, Operations), one registry per running app (tests run several)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


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
            "off by the header or body deadline",
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
        self.ws_sessions = Gauge(
            "gateway_ws_sessions", "Open authenticated agent websocket sessions", registry=r
        )
        self.ws_slow_disconnects = Counter(
            "gateway_ws_slow_disconnects",
            "Sessions closed 4008 for an unsent backlog",
            registry=r,
        )
        self.ws_unauthenticated = Gauge(
            "gateway_ws_unauthenticated",
            "Agent websockets open and still waiting for their auth frame",
            registry=r,
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
        self.delivery_queue_depth = Gauge(
            "gateway_delivery_queue_depth", "Deliveries waiting in the queue", registry=r
        )
        # What the engine holds, shared by every process on it (each reports the same):
        # refreshed by the retention loop, so a scrape costs no engine round trip.
        self.event_log_events = Gauge(
            "gateway_event_log_events", "Events held in the event log", registry=r
        )
        self.event_log_bytes = Gauge(
            "gateway_event_log_bytes", "Bytes of the events held in the event log", registry=r
        )
        self.delivery_queued_bytes = Gauge(
            "gateway_delivery_queued_bytes", "Bytes of the deliveries queued", registry=r
        )
        self.delivery_dead_bytes = Gauge(
            "gateway_delivery_dead_bytes", "Bytes of the dead letters kept for replay", registry=r
        )
        self.delivery_oldest_due = Gauge(
            "gateway_delivery_oldest_due_seconds",
            "How long the longest-waiting due delivery has been due",
            registry=r,
        )
        self.delivery_overflowed = Gauge(
            "gateway_delivery_overflowed_total",
            "Queued deliveries turned dead by a subscriber's queued-bytes cap (engine-wide)",
            registry=r,
        )
        self.dead_letters_dropped = Gauge(
            "gateway_dead_letters_dropped_total",
            "Dead letters dropped by a subscriber's dead-letter caps (engine-wide)",
            registry=r,
        )
        self.redis_errors = Counter(
            "gateway_redis_errors",
            "Calls to Redis that failed as unavailable (connection lost, timeout, a "
            "not-now reply such as READONLY or OOM); 0 on the memory engine",
            registry=r,
        )
        self.redis_reader_lag = Gauge(
            "gateway_redis_reader_lag_seconds",
            "How far this process's event stream reader is behind: the age of the oldest "
            "event of its last read (0 when it found nothing new); while Redis is "
            "unreachable, the time since its last read; 0 on the memory engine",
            registry=r,
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
        return generate_latest(self.registry)
