"""The Redis connection: clients made from the settings (single node, TLS, unix socket,
Sentinel), and the one boundary where redis-py's errors become `EngineUnavailable`.

Timeouts are short on purpose: a Redis that stops answering must turn into 503s and a
failing `/readyz` within seconds, not hang requests. redis-py's own retries are off: a
script whose reply was lost may have run, and running it again is the caller's decision
(a provider retries its webhook; dedup answers it), never the client library's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from redis import exceptions as redis_errors
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.engine.base import EngineUnavailable
from gateway.engine.redis import cluster, sentinel, urls
from gateway.engine.redis.keys import Keys
from gateway.engine.redis.scripts import Scripts

log = logging.getLogger("gateway.redis")

SCHEMES = ("redis", "rediss", "unix", *sentinel.SCHEMES, *cluster.SCHEMES)
TLS_SCHEMES = ("rediss", "rediss+sentinel", "rediss+cluster")

Client = Redis | RedisCluster

# How long a command may wait for a free connection of the pool before it fails.
POOL_WAIT_SECONDS = 2.0
# Methods that wait for the stream reader (up to their `wait_seconds`) rather than for
# Redis: they do not hold a place at the gate while they wait (see `guarded`).
WAITING_METHODS = frozenset({"wait_after", "changes_after"})
# An idle pooled connection is PINGed before use after this long, so a Redis that restarted
# meanwhile costs a reconnect, not an error.
HEALTH_CHECK_SECONDS = 10.0

# Replies that say "not now" rather than "wrong": the command did not run. On a Cluster
# whose slot is being moved, a script may also be refused (or stopped at a key it did not
# declare that has moved: "non local key") until the move is over.
_UNAVAILABLE_REPLIES = ("OOM", "READONLY", "MISCONF", "LOADING", "BUSY", "MASTERDOWN",
                        "CLUSTERDOWN", "TRYAGAIN", "NOREPLICAS", "MOVED", "ASK")  # fmt: skip
_SLOT_MOVING = "non local key"


class RedisConfigError(Exception):
    """A Redis setting or deployment the gateway refuses to start with (one line)."""


@dataclass(frozen=True, slots=True)
class RedisOptions:
    """Everything needed to reach Redis, taken from the `GATEWAY_REDIS_*` settings."""

    url: str
    key_prefix: str = "gw"
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    pool_size: int = 64
    connect_timeout_seconds: float = 2.0
    timeout_seconds: float = 5.0
    wait_replicas: int = 0
    wait_timeout_seconds: float = 1.0

    def __post_init__(self) -> None:
        scheme, sep, _ = self.url.partition("://")
        if scheme not in SCHEMES:
            shown = f", not {scheme!r}" if sep and scheme.replace("+", "").isalnum() else ""
            raise RedisConfigError(
                "GATEWAY_REDIS_URL must start with redis://, rediss://, unix://, "
                "redis+sentinel://, rediss+sentinel://, redis+cluster:// or rediss+cluster://"
                + shown
            )
        try:
            urls.split_userinfo(self.url)
            if scheme in sentinel.SCHEMES:
                sentinel.parse(self.url)
            elif scheme in cluster.SCHEMES:
                cluster.parse(self.url)
        except urls.UrlError as exc:
            raise RedisConfigError(f"GATEWAY_REDIS_URL: {exc}") from None
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise RedisConfigError(
                "GATEWAY_REDIS_TLS_CERT_FILE and GATEWAY_REDIS_TLS_KEY_FILE go together"
            )
        if self.wait_replicas and self.wait_timeout_seconds >= self.timeout_seconds:
            raise RedisConfigError(
                "GATEWAY_REDIS_WAIT_TIMEOUT_SECONDS must be shorter than "
                "GATEWAY_REDIS_TIMEOUT_SECONDS (a WAIT is a command like any other)"
            )
        tls_set = self.tls_ca_file or self.tls_cert_file
        if tls_set and scheme not in TLS_SCHEMES:
            raise RedisConfigError("GATEWAY_REDIS_TLS_* settings need a rediss:// URL")

    @property
    def _sentinel(self) -> sentinel.SentinelTarget | None:
        scheme = self.url.partition("://")[0]
        return sentinel.parse(self.url) if scheme in sentinel.SCHEMES else None

    @property
    def _cluster(self) -> urls.MultiHostUrl | None:
        scheme = self.url.partition("://")[0]
        return cluster.parse(self.url) if scheme in cluster.SCHEMES else None

    @property
    def target(self) -> str:
        """The URL without its password, for logs and the start-up line."""
        if self._sentinel is not None:
            return self._sentinel.display
        if self._cluster is not None:
            return self._cluster.display("")
        return urls.without_secrets(self.url)

    def client(self, *, read_timeout: float | None = None, pool_size: int | None = None) -> Client:
        """A client with its own pool; `read_timeout` overrides the socket read timeout (the
        blocking stream reader waits longer than any command)."""
        kwargs: dict[str, Any] = {
            "max_connections": pool_size or self.pool_size,
            "timeout": POOL_WAIT_SECONDS,
            "socket_connect_timeout": self.connect_timeout_seconds,
            "socket_timeout": read_timeout or self.timeout_seconds,
            "retry": Retry(NoBackoff(), 0),
            "health_check_interval": HEALTH_CHECK_SECONDS,
            "client_name": "gateway",
        }
        if self.url.partition("://")[0] in TLS_SCHEMES:
            kwargs.update(
                ssl_ca_certs=self.tls_ca_file,
                ssl_certfile=self.tls_cert_file,
                ssl_keyfile=self.tls_key_file,
                ssl_cert_reqs="required",
                ssl_check_hostname=True,  # not left to the redis-py version's default
            )
        target = self._sentinel
        if target is not None:
            return sentinel.master_client(target, kwargs)
        nodes = self._cluster
        if nodes is not None:
            return cluster.cluster_client(nodes, kwargs)
        pool = BlockingConnectionPool.from_url(self.url, **kwargs)
        return Redis.from_pool(pool)


class NotAnOutage(EngineUnavailable):
    """The call could not be done now, but Redis is there: a 503 counted among the errors,
    never an "unavailable" / "available again" pair in the log, nor a closing of the
    pool's idle connections."""


class PoolBusy(NotAnOutage):
    """Every pooled connection stayed in use for `POOL_WAIT_SECONDS`: this process is busy,
    Redis is not down."""


def is_pool_exhausted(exc: BaseException) -> bool:
    """redis-py's "no free connection" (a `ConnectionError` subclass, not an outage)."""
    return isinstance(exc, redis_errors.MaxConnectionsError) or (
        isinstance(exc, redis_errors.ConnectionError) and str(exc) == "No connection available."
    )


_CLOSED_TRANSPORT = "the handler is closed"
"""How uvloop refuses a write to a transport the peer has closed: a `RuntimeError`, where
asyncio's own loop drops the write. redis-py lets it through when Redis goes away between
connecting and its first command (its health-check PING); it is a lost connection."""


def is_unavailable(exc: BaseException) -> bool:
    """Whether a redis-py error means Redis cannot serve us now (as opposed to a bug)."""
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError | OSError):
        return True
    if isinstance(exc, RuntimeError) and _CLOSED_TRANSPORT in str(exc):
        return True
    if isinstance(exc, TimeoutError):
        return True
    if isinstance(exc, redis_errors.ResponseError):
        message = str(exc)
        return (
            message.startswith(_UNAVAILABLE_REPLIES)
            or _SLOT_MOVING in message
            or isinstance(
                exc,
                redis_errors.ReadOnlyError
                | redis_errors.OutOfMemoryError
                | redis_errors.TryAgainError
                | redis_errors.AskError
                | redis_errors.ClusterError,
            )
        )
    return isinstance(exc, redis_errors.ClusterError | redis_errors.SlotNotCoveredError)


class Health:
    """Whether Redis answered the last call: one log line when it goes, one when it is back,
    never one per request; and how many calls failed (`gateway_redis_errors_total`).

    At each change the connections idle in `client`'s pool are closed: one that sat idle
    while Redis went away and came back is dead without knowing it, and its first command
    would fail after Redis is back (another "unavailable" line for nothing). They leave the
    pool at once, before the closing awaits anything: a command taking one while it was
    being closed would fail (`Connection lost`). A command in flight keeps its connection;
    one that fails is closed by redis-py itself. A command in flight through a restart can
    still fail just after Redis answered again: a failure within `SETTLE_SECONDS` of a
    recovery is logged only if failures go on past that long (an aftershock is not a second
    outage in the log, though it is counted and unavailable like any)."""

    SETTLE_SECONDS = 2.0

    def __init__(self, target: str, client: Client | None = None) -> None:
        self.target = target
        self.down_since: float | None = None
        self.errors = 0
        self._client = client
        self._closing: set[asyncio.Task[None]] = set()
        self._connections_suspect = False
        self._recovered_at = -self.SETTLE_SECONDS
        self._logged = False

    def failed(self, exc: BaseException) -> None:
        self.errors += 1
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
            self._logged = False
        if not self._logged and (
            self.down_since - self._recovered_at >= self.SETTLE_SECONDS
            or now - self.down_since >= self.SETTLE_SECONDS
        ):
            self._logged = True
            log.warning("redis at %s is unavailable: %s", self.target, describe(exc))
        if not isinstance(exc, NotAnOutage) and not self._connections_suspect:
            self._connections_suspect = True
            self._close_idle()

    def answered(self, since: int | None = None) -> None:
        """Redis answered a call; `since` is `errors` when the call began. A call that began
        before the latest failure (its reply was on its way when another call failed) says
        nothing of Redis now: were it heard, one outage would log as several."""
        if since is not None and since != self.errors:
            return
        if self.down_since is not None:
            now = time.monotonic()
            seconds = now - self.down_since
            self.down_since = None
            self._recovered_at = now
            if self._logged:
                log.warning("redis at %s is available again after %.1fs", self.target, seconds)
        if self._connections_suspect:
            self._connections_suspect = False
            self._close_idle()

    def _close_idle(self) -> None:
        client = self._client
        if client is None or isinstance(client, RedisCluster):
            return  # a cluster client drops a failed node's connections itself
        idle = take_idle(client)
        task = asyncio.get_running_loop().create_task(_disconnect(idle))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def take_idle(client: Redis) -> list[AbstractConnection]:
    """The pool's idle connections, taken out of it (redis-py has no public way to do so
    without awaiting: `_available_connections` is private, and a canary test in
    `tests/engine/test_redis_health.py` fails if it changes). The pool makes new ones as
    commands need them."""
    available: list[AbstractConnection] = client.connection_pool._available_connections
    idle = list(available)
    available.clear()
    return idle


async def _disconnect(connections: list[AbstractConnection]) -> None:
    for connection in connections:
        with contextlib.suppress(Exception):  # closing a dead connection may fail; it is
            await connection.disconnect()  # closed


ScriptArg = str | bytes | int | float


def text(value: bytes | str) -> str:
    """A reply as text (the client is made without `decode_responses`: payloads stay bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def describe(exc: BaseException) -> str:
    """One line for the logs (an `EngineUnavailable` says what failed in its detail)."""
    line = (exc.detail if isinstance(exc, EngineUnavailable) else str(exc)) or type(exc).__name__
    return line.splitlines()[0][:200]


class Linked(Protocol):
    """A store holding the engine's `Link`."""

    @property
    def link(self) -> Link: ...


@dataclass(frozen=True, slots=True)
class Link:
    """What every store shares: the command client, the key names, the scripts registered
    on the client and the health record."""

    redis: Client
    keys: Keys
    scripts: Scripts
    health: Health
    gate: asyncio.Semaphore
    """As many places as the pool has connections per node: a call waits here for a free
    one. Sentinel and Cluster pools fail at once when every connection is in use (only
    the single-node pool waits), and a burst must queue, not read as an outage."""


def _raise_if_cancelled(task: asyncio.Task[Any] | None, cancels_before: int) -> None:
    """Deliver a cancellation that arrived during the call. On Python 3.11 redis-py's use of
    `asyncio.wait_for` can lose one that races a completing socket operation (the task
    then runs on as if never cancelled, and a loop being stopped never stops)."""
    if task is not None and task.cancelling() > cancels_before:
        raise asyncio.CancelledError


class PlaceAt:
    """`async with PlaceAt(gate):` holds a place at the pool gate, waited for at most
    `POOL_WAIT_SECONDS` (`PoolBusy` past that). A free place is taken without arming the
    deadline, which is every call but those of a burst: a timer and an exit stack per call
    were a tenth of a webhook's cost."""

    __slots__ = ("_gate",)

    def __init__(self, gate: asyncio.Semaphore) -> None:
        self._gate = gate

    async def __aenter__(self) -> None:
        gate = self._gate
        if not gate.locked():
            await gate.acquire()  # returns at once: nothing to wait for
            return
        try:
            async with asyncio.timeout(POOL_WAIT_SECONDS):
                await gate.acquire()
        except TimeoutError:
            raise PoolBusy(
                f"redis: every pooled connection stayed busy for {POOL_WAIT_SECONDS:g}s"
            ) from None

    async def __aexit__(self, *exc_info: object) -> None:
        self._gate.release()


S = TypeVar("S", bound=Linked)
P = ParamSpec("P")
T = TypeVar("T")


def guarded(
    method: Callable[Concatenate[S, P], Awaitable[T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """The boundary: every public method of every Redis store is wrapped in this, so a
    connection, timeout or "not now" error of redis-py leaves the engine as
    `EngineUnavailable` (a 503 upstream), never as a 500. A method that returned asked
    Redis, which answered: the health record hears so."""
    return _guard(method, answered=True)


def guarded_local(
    method: Callable[Concatenate[S, P], Awaitable[T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """`guarded`, for a method that may answer from this process alone (the event log's
    recent tail): that it returned says nothing of Redis, so the Redis calls it makes
    tell the health record themselves (`Health.answered`)."""
    return _guard(method, answered=False)


def _guard(
    method: Callable[Concatenate[S, P], Awaitable[T]], *, answered: bool
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    waits = method.__name__ in WAITING_METHODS

    @functools.wraps(method)
    async def call(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        link = self.link
        health = link.health
        task = asyncio.current_task()
        cancels = task.cancelling() if task is not None else 0
        since = health.errors
        try:
            if waits:
                result = await method(self, *args, **kwargs)
            else:
                async with PlaceAt(link.gate):
                    result = await method(self, *args, **kwargs)
        except NotAnOutage:
            _raise_if_cancelled(task, cancels)
            health.errors += 1
            raise
        except EngineUnavailable as exc:
            _raise_if_cancelled(task, cancels)
            health.failed(exc)
            raise
        except Exception as exc:
            _raise_if_cancelled(task, cancels)
            if is_pool_exhausted(exc):
                health.errors += 1
                raise PoolBusy(f"redis: {describe(exc)}") from exc
            if not is_unavailable(exc):
                raise
            health.failed(exc)
            raise EngineUnavailable(f"redis: {describe(exc)}") from exc
        _raise_if_cancelled(task, cancels)
        if answered:
            health.answered(since)
        return result

    call.__guarded__ = True  # type: ignore[attr-defined]
    return call
