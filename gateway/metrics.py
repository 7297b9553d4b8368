"""Prometheus metrics (README, Operations), one registry per running app (tests run several).

Under `serve --workers N` every worker counts in prometheus-client's multiprocess mode:
the supervisor gives each the same directory (`PROMETHEUS_MULTIPROC_DIR`, set before
prometheus-client is imported), each worker's values live in files there, and a scrape of
any worker reads every file, so `/metrics` answers for the whole host. Counters and
histograms add up across workers (a dead worker's counts stay in the totals); each gauge
says how it combines: open sessions add up over the live workers, and the engine's figures,
which every worker reads from the same engine, are the latest any live worker read.

What is counted once per request or per webhook (`gateway_http_requests_total`, its latency
histogram, `gateway_webhooks_total`, events stored, duplicates, normalised) is, in a single
process, kept in plain numbers and read when `/metrics` is scraped (`Counts`,
`LatencyHistogram`): a `prometheus_client` labelled child costs a label lookup, a lock and a
value object per increment, which summed to more than verifying the request's signature.
Under workers those counts must reach the shared files, so they are kept in
`prometheus_client`'s own metrics there (`_SharedCounts`, `_SharedHistogram`).
"""

from __future__ import annotations

import os
from abc import abstractmethod
from bisect import bisect_left
from collections.abc import Iterator
from typing import Final, Literal, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

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

Labels = tuple[str, ...]


class _FoldedOnScrape(Collector):
    """A metric kept as plain numbers in this process and folded into a metric family only
    when scraped: the per-request paths pay a dict update, not prometheus_client's locks.
    Registered where it is made, as prometheus_client's own metrics are."""

    def __init__(
        self, name: str, documentation: str, labelnames: Labels, registry: CollectorRegistry
    ) -> None:
        self._name, self._documentation, self._labelnames = name, documentation, labelnames
        self._clear()
        registry.register(self)

    @abstractmethod
    def _clear(self) -> None:
        """Start with no observations (before registering: the registry collects once)."""


class Counts(_FoldedOnScrape):
    """A counter by label values."""

    _values: dict[Labels, float]

    def _clear(self) -> None:
        self._values = {}

    def inc(self, *labels: str, amount: float = 1) -> None:
        self._values[labels] = self._values.get(labels, 0) + amount

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for labels, value in self._values.items():
            family.add_metric(list(labels), float(value))
        if not self._labelnames and not self._values:
            family.add_metric([], 0.0)
        yield family


class LatencyHistogram(_FoldedOnScrape):
    """A histogram of seconds by label values, as bucket counts."""

    _BOUNDS: tuple[str, ...] = tuple(
        floatToGoString(bound)  # type: ignore[no-untyped-call]  # untyped upstream
        for bound in (*_LATENCY_BUCKETS, float("inf"))
    )

    _series: dict[Labels, tuple[list[int], list[float]]]
    """Per label values: (count per bucket, not cumulative; [sum of observations])."""

    def _clear(self) -> None:
        self._series = {}

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


class CountsLike(Protocol):
    def inc(self, *labels: str, amount: float = 1) -> None: ...


class HistogramLike(Protocol):
    def observe(self, labels: Labels, seconds: float) -> None: ...


class _SharedCounts:
    """`Counts`' interface over a `prometheus_client` counter (multiprocess mode)."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._children: dict[Labels, Counter] = {}

    def inc(self, *labels: str, amount: float = 1) -> None:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = (
                self._counter.labels(*labels) if labels else self._counter
            )
        child.inc(amount)


class _SharedHistogram:
    """`LatencyHistogram`'s interface over a `prometheus_client` histogram."""

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._children: dict[Labels, Histogram] = {}

    def observe(self, labels: Labels, seconds: float) -> None:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = self._histogram.labels(*labels)
        child.observe(seconds)


def _shared() -> bool:
    return bool(os.environ.get(MULTIPROCESS_DIR))


def _counts(
    name: str, documentation: str, registry: CollectorRegistry, labelnames: Labels = ()
) -> CountsLike:
    """A per-request counter: plain numbers in one process, shared files under workers."""
    if _shared():
        return _SharedCounts(Counter(name, documentation, labelnames, registry=registry))
    return Counts(name, documentation, labelnames, registry)


def _latency(
    name: str, documentation: str, registry: CollectorRegistry, labelnames: Labels
) -> HistogramLike:
    """A per-request latency histogram, chosen like `_counts`."""
    if _shared():
        return _SharedHistogram(
            Histogram(name, documentation, labelnames, buckets=_LATENCY_BUCKETS, registry=registry)
        )
    return LatencyHistogram(name, documentation, labelnames, registry)


def _gauge(
    name: str, documentation: str, across_workers: AcrossWorkers, registry: CollectorRegistry
) -> Gauge:
    """Every gauge says how it combines across the workers of `serve --workers N`."""
    return Gauge(name, documentation, registry=registry, multiprocess_mode=across_workers)


class Metrics:
    """Every metric the gateway exports; features update the ones that are theirs."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = _counts(
            "gateway_http_requests",
            "HTTP requests by route and status",
            r,
            ("method", "route", "status"),
        )
        self.http_latency = _latency(
            "gateway_http_request_duration_seconds",
            "HTTP request latency by route and status",
            r,
            ("method", "route", "status"),
        )
        self.http_refused = Counter(
            "gateway_http_refused",
            "Connections refused at the connection cap, and connections and requests cut "
            "off by the header, body or send deadline",
            ["reason"],
            registry=r,
        )
        self.webhooks = _counts(
            "gateway_webhooks",
            "Inbound webhooks by integration kind and outcome",
            r,
            ("kind", "outcome"),
        )
        self.events_stored = _counts(
            "gateway_events_stored", "Activity events stored in the event log", r
        )
        self.duplicates = _counts(
            "gateway_duplicates", "Provider events received again and dropped", r
        )
        self.normalised = _counts(
            "gateway_webhooks_normalised",
            "Verified webhooks normalised into activities (a redelivery recognised by its "
            "dedup keys is answered without)",
            r,
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
        self.redis_clock_skew = _gauge(
            "gateway_redis_clock_skew_seconds",
            "How far this host's clock is from Redis's (TIME), either way, as last measured "
            "(at start-up and every few seconds by /readyz); leases and presence expiry "
            "need the hosts to agree; 0 on the memory engine",
            FURTHEST_BEHIND,
            r,
        )
        # Counted by the restarted worker itself (the supervisor passes it the count): a
        # counter of a dead worker stays in the host's totals, so this is the whole run's.
        self.worker_restarts = Counter(
            "gateway_worker_restarts",
            "Workers of `serve --workers N` started again after one died, by worker id",
            ["worker"],
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
        inventing methods cannot grow the series without bound."""
        key = (method if method in _METHODS else "other", route, str(status))
        self.http_requests.inc(*key)
        self.http_latency.observe(key, seconds)

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
