"""Prometheus metrics (README, Operations), one registry per running app (tests run several).

What is counted once per request or per webhook (`gateway_http_requests_total`, its latency
histogram, `gateway_webhooks_total`, events stored, duplicates) is kept in plain integers
and read when `/metrics` is scraped (`Counts`, `LatencyHistogram`): a `prometheus_client`
labelled child costs a label lookup, a lock and a value object per increment, which summed
to more than verifying the request's signature. Everything else uses `prometheus_client`
directly.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)

Labels = tuple[str, ...]


class Counts(Collector):
    """A counter by label values, as plain numbers folded into a metric family on scrape."""

    def __init__(self, name: str, documentation: str, labelnames: Labels = ()) -> None:
        self._name, self._documentation, self._labelnames = name, documentation, labelnames
        self._values: dict[Labels, float] = {}

    def inc(self, *labels: str, amount: float = 1) -> None:
        self._values[labels] = self._values.get(labels, 0) + amount

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for labels, value in self._values.items():
            family.add_metric(list(labels), float(value))
        if not self._labelnames and not self._values:
            family.add_metric([], 0.0)
        yield family


class LatencyHistogram(Collector):
    """A histogram of seconds by label values, as plain bucket counts folded on scrape."""

    _BOUNDS: tuple[str, ...] = tuple(
        floatToGoString(bound)  # type: ignore[no-untyped-call]  # untyped upstream
        for bound in (*_LATENCY_BUCKETS, float("inf"))
    )

    def __init__(self, name: str, documentation: str, labelnames: Labels) -> None:
        self._name, self._documentation, self._labelnames = name, documentation, labelnames
        self._series: dict[Labels, tuple[list[int], list[float]]] = {}
        """Per label values: (count per bucket, not cumulative; [sum of observations])."""

    def observe(self, labels: Labels, seconds: float) -> None:
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = ([0] * len(self._BOUNDS), [0.0])
        series[0][bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        series[1][0] += seconds

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for labels, (counts, total) in self._series.items():
            cumulative, buckets = 0, []
            for bound, count in zip(self._BOUNDS, counts, strict=True):
                cumulative += count
                buckets.append((bound, float(cumulative)))
            family.add_metric(list(labels), buckets, total[0])
        yield family


class Metrics:
    """Every metric the gateway exports; features update the ones that are theirs."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counts(
            "gateway_http_requests",
            "HTTP requests by route and status",
            ("method", "route", "status"),
        )
        self.http_latency = LatencyHistogram(
            "gateway_http_request_duration_seconds",
            "HTTP request latency by route and status",
            ("method", "route", "status"),
        )
        self.http_refused = Counter(
            "gateway_http_refused",
            "Connections refused at the connection cap, and connections and requests cut "
            "off by the header or body deadline",
            ["reason"],
            registry=r,
        )
        self.webhooks = Counts(
            "gateway_webhooks",
            "Inbound webhooks by integration kind and outcome",
            ("kind", "outcome"),
        )
        self.events_stored = Counts(
            "gateway_events_stored", "Activity events stored in the event log"
        )
        self.duplicates = Counts("gateway_duplicates", "Provider events received again and dropped")
        self.normalised = Counts(
            "gateway_webhooks_normalised",
            "Verified webhooks normalised into activities (a redelivery recognised by its "
            "dedup keys is answered without)",
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
        self.ingest_to_fanout = Histogram(
            "gateway_ingest_to_fanout_seconds",
            "From a webhook's arrival to its fan-out",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

        for collector in (self.http_requests, self.http_latency, self.webhooks):
            r.register(collector)
        r.register(self.events_stored)
        r.register(self.duplicates)
        r.register(self.normalised)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one HTTP request. Methods outside the standard set are `other`, so a client
        inventing methods cannot grow the series without bound."""
        key = (method if method in _METHODS else "other", route, str(status))
        self.http_requests.inc(*key)
        self.http_latency.observe(key, seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
