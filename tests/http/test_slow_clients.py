"""Slow and idle clients against a real `python -m gateway serve`: every way of holding a
connection open without finishing a request is cut off by a deadline, and a webhook sender
without SCG's credential never gets its body read.

The deadlines are short here (set by environment) so the probes finish in seconds; each
probe keeps sending, or stays silent, far past its deadline, so a gateway without the
deadline keeps the connection open and the test fails."""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from hostile_probes import (
    ADMIN_KEY,
    SCG_BASIC,
    closed_unread,
    connect,
    metric,
    scg_integration,
    stuff_without_reading,
    trickle,
    wait_for_close,
    webhook_head,
)

from tests.conftest import GatewayProcess, start_gateway

HEADER_SECONDS = 1.0
BODY_SECONDS = 1.5
KEEPALIVE_SECONDS = 4.0
SEND_SECONDS = 2.0
LIMITS = {
    "GATEWAY_ADMIN_KEY": ADMIN_KEY,
    "GATEWAY_HTTP_HEADER_TIMEOUT_SECONDS": str(HEADER_SECONDS),
    "GATEWAY_HTTP_BODY_TIMEOUT_SECONDS": str(BODY_SECONDS),
    "GATEWAY_HTTP_SEND_TIMEOUT_SECONDS": str(SEND_SECONDS),
    "GATEWAY_HTTP_KEEPALIVE_SECONDS": str(KEEPALIVE_SECONDS),
}
GIVE_UP = 8.0
"""Probes give up this long after starting: far past every deadline above."""
BODY = b'{"event": {"evt-tp": "mo_message_received"}, "event-id": "e1"}'
MIB = 1_048_576


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayProcess]:
    process = start_gateway(env=LIMITS)
    yield process
    assert process.terminate() == 0


@pytest.fixture(scope="module")
def scg(gateway: GatewayProcess) -> str:
    return scg_integration(gateway)


def closed_by_deadline(outcome_seconds: float | None, deadline: float) -> bool:
    return outcome_seconds is not None and deadline - 0.2 <= outcome_seconds <= deadline + 3


def test_a_silent_socket_is_closed_by_the_header_deadline(gateway: GatewayProcess) -> None:
    with connect(gateway) as sock:
        outcome = wait_for_close(sock, GIVE_UP)
    assert closed_by_deadline(outcome.closed_after, HEADER_SECONDS), outcome
    assert outcome.answer == b""


def test_headers_a_byte_at_a_time_are_closed_by_the_header_deadline(
    gateway: GatewayProcess,
) -> None:
    """The deadline covers the whole head, not the gap between bytes: a byte every 0.2 s
    would keep a per-read timeout alive for ever."""
    head = b"GET /healthz HTTP/1.1\r\nHost: gateway.test\r\nX-Padding: " + b"p" * 200
    with connect(gateway) as sock:
        outcome = trickle(sock, head, 0.2, GIVE_UP)
    assert closed_by_deadline(outcome.closed_after, HEADER_SECONDS), outcome


def test_the_header_deadline_runs_again_for_the_next_request_of_a_kept_alive_connection(
    gateway: GatewayProcess,
) -> None:
    """After an answer, the next request's head has the header deadline from its first
    byte, not only the (longer) keep-alive."""
    with connect(gateway) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        outcome = trickle(sock, b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"s" * 200, 0.2, GIVE_UP)
    assert closed_by_deadline(outcome.closed_after, HEADER_SECONDS), outcome


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_trickled_body_is_answered_408_at_the_body_deadline(
    gateway: GatewayProcess, scg: str, chunked: bool
) -> None:
    """The whole body must arrive within the deadline: a byte every 0.2 s is cut off."""
    if chunked:
        head = webhook_head(scg, f"Authorization: {SCG_BASIC}")
        body = b"".join(b"1\r\n" + bytes([byte]) + b"\r\n" for byte in BODY) + b"0\r\n\r\n"
    else:
        head = webhook_head(scg, f"Authorization: {SCG_BASIC}", length=len(BODY))
        body = BODY
    before = metric(gateway, 'gateway_http_refused_total{reason="body_timeout"}')
    with connect(gateway) as sock:
        sock.sendall(head)
        outcome = trickle(sock, body, 0.2, GIVE_UP)
    assert closed_by_deadline(outcome.closed_after, BODY_SECONDS), outcome
    assert outcome.status == 408, outcome.answer[:300]
    assert outcome.error_code == "request_timeout"
    assert outcome.header("UC-REST-ERROR")
    assert outcome.header("Connection") == "close"
    assert metric(gateway, 'gateway_http_refused_total{reason="body_timeout"}') == before + 1
    series = 'gateway_webhooks_total{kind="scg",outcome="request_timeout"}'
    assert metric(gateway, series) >= 1


def test_an_idle_kept_alive_connection_is_closed_after_the_keepalive(
    gateway: GatewayProcess,
) -> None:
    with connect(gateway) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
        started = time.monotonic()
        outcome = wait_for_close(sock, KEEPALIVE_SECONDS + GIVE_UP)
    assert outcome.status == 200
    assert outcome.closed_after is not None, "the idle connection was never closed"
    idle = time.monotonic() - started
    assert KEEPALIVE_SECONDS - 0.2 <= idle <= KEEPALIVE_SECONDS + 3, idle


def test_a_client_that_never_reads_its_answers_is_dropped_at_the_send_deadline(
    gateway: GatewayProcess,
) -> None:
    """Requests pipelined by a client that never reads a byte of the answers held their
    connection for ever: the gateway waited to write an answer, past every other deadline.
    Once its buffer for the connection is full, the send deadline runs, and the connection
    is dropped when it passes."""
    before = metric(gateway, 'gateway_http_refused_total{reason="send_timeout"}')
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((gateway.host, gateway.port))
        stuff_without_reading(sock, b"GET /openapi.json HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
        closed = closed_unread(sock, SEND_SECONDS + GIVE_UP)
    assert closed is not None, "the connection is still held"
    assert closed <= SEND_SECONDS + 3, closed
    after = metric(gateway, 'gateway_http_refused_total{reason="send_timeout"}')
    assert after == before + 1


def _abandon_scg_body(gateway: GatewayProcess, head: bytes, body: bytes) -> tuple[bytes, float]:
    """Send a head, then (unless answered first) most of a body, and stop; return what
    was answered before the body was sent, and when the gateway closed the connection."""
    with connect(gateway) as sock:
        started = time.monotonic()
        sock.sendall(head)
        sock.settimeout(0.5)
        try:
            early = sock.recv(65536)
        except TimeoutError:
            early = b""
        sock.settimeout(10)
        with contextlib.suppress(OSError):
            sock.sendall(body)
        outcome = wait_for_close(sock, GIVE_UP + 12)
        closed = outcome.closed_after
        assert closed is not None, "the abandoned request's connection was never closed"
        return early + outcome.answer, time.monotonic() - started


def test_twenty_unauthenticated_senders_of_a_declared_1mib_body_are_401_before_it(
    gateway: GatewayProcess, scg: str
) -> None:
    """The credential is checked before the body is read: each gets 401 before sending a
    byte of it, and the connection is gone soon after it stops (the bytes it does send are
    read and dropped, never held)."""
    body = b"x" * 1_048_000
    heads = [
        webhook_head(scg, length=MIB),
        webhook_head(scg, "Authorization: Basic d3Jvbmc6d3Jvbmc=", length=MIB),
    ]
    with ThreadPoolExecutor(20) as pool:
        results = list(
            pool.map(lambda i: _abandon_scg_body(gateway, heads[i % 2], body), range(20))
        )
    for answer, _ in results:
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
        assert b'"unauthorized"' in answer


def test_twenty_abandoned_chunked_bodies_are_not_held_past_the_body_deadline(
    gateway: GatewayProcess, scg: str
) -> None:
    """A chunked body must be read (within the limit) before the credential, as the
    check order says; one abandoned there is cut off by the body deadline, 408."""
    chunk = b"x" * 1_048_000
    body = f"{len(chunk):x}\r\n".encode() + chunk
    before = metric(gateway, 'gateway_http_refused_total{reason="body_timeout"}')
    with ThreadPoolExecutor(20) as pool:
        results = list(
            pool.map(lambda _: _abandon_scg_body(gateway, webhook_head(scg), body), range(20))
        )
    for answer, seconds in results:
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert seconds <= BODY_SECONDS + 6, seconds
    assert metric(gateway, 'gateway_http_refused_total{reason="body_timeout"}') == before + 20


def test_an_oversized_chunked_body_is_still_413_before_the_credential(
    gateway: GatewayProcess, scg: str
) -> None:
    chunk = b"x" * (MIB + 10)
    with connect(gateway) as sock:
        sock.sendall(webhook_head(scg) + f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n")
        outcome = wait_for_close(sock, GIVE_UP)
    assert outcome.status == 413, outcome.answer[:200]


def test_with_the_credential_the_declared_body_is_read_and_accepted(
    gateway: GatewayProcess, scg: str
) -> None:
    body = (
        b'{"event": {"evt-tp": "mo_message_received", "fld-val-list": {"from_address": "1",'
        b' "to_address": "2", "message_body": "hi"}}, "event-id": "accepted-1"}'
    )
    with connect(gateway) as sock:
        sock.sendall(webhook_head(scg, f"Authorization: {SCG_BASIC}", length=len(body)))
        time.sleep(0.3)
        sock.sendall(body)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 202 "), answer[:300]


def test_a_draining_gateway_still_applies_the_body_deadline() -> None:
    """After SIGTERM the gateway waits for requests in flight (30 s by default), but a
    body that stalls is still cut off at its deadline, and the process exits."""
    process = start_gateway(env=LIMITS)
    try:
        integration = scg_integration(process)
        with connect(process) as sock:
            sock.sendall(
                webhook_head(integration, f"Authorization: {SCG_BASIC}", length=len(BODY))
                + BODY[:5]
            )
            time.sleep(0.3)
            process.proc.send_signal(signal.SIGTERM)
            outcome = wait_for_close(sock, GIVE_UP)
        assert outcome.status == 408, outcome
        assert outcome.closed_after is not None and outcome.closed_after <= BODY_SECONDS + 3
        assert process.proc.wait(10) == 0
    finally:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


def test_past_the_connection_cap_a_new_connection_gets_a_canned_503() -> None:
    """Connections beyond GATEWAY_MAX_CONNECTIONS are answered at once, without their
    request being read, and closed; one freed slot lets the next one in."""
    process = start_gateway(env={"GATEWAY_ADMIN_KEY": ADMIN_KEY, "GATEWAY_MAX_CONNECTIONS": "4"})
    held: list[socket.socket] = []
    try:
        held = [connect(process) for _ in range(4)]
        time.sleep(0.3)
        with connect(process) as refused:
            refused.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
            outcome = wait_for_close(refused, GIVE_UP)
        assert outcome.status == 503, outcome
        assert outcome.error_code == "unavailable"
        assert outcome.header("Retry-After") == "1"
        assert outcome.header("Connection") == "close"
        assert outcome.header("X-Request-Id")
        assert outcome.header("UC-REST-ERROR")
        assert outcome.closed_after is not None and outcome.closed_after < 3
        held.pop().close()
        deadline = time.monotonic() + 5
        while True:
            try:
                refused_count = metric(
                    process, 'gateway_http_refused_total{reason="connection_limit"}'
                )
                break
            except OSError:
                assert time.monotonic() < deadline, "the freed slot was never reused"
                time.sleep(0.1)
        assert refused_count >= 1
    finally:
        for sock in held:
            sock.close()
        assert process.terminate() == 0
