"""A failure reads as what it is, against a real `python -m gateway serve` logging at
debug: a client that goes away mid-body is a cancelled request (status label 499), not a
500 with a traceback; an undecodable gzip body is a 415 and nothing more; a 7 KB path is
not logged whole; no answer names the server's software versions."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_probes import (
    ADMIN_KEY,
    SCG_BASIC,
    connect,
    metric,
    scg_integration,
    wait_for_close,
    webhook_head,
)

from tests.conftest import GatewayProcess, start_gateway

WEBHOOK = "/webhooks/{integration_id}"


@pytest.fixture(scope="module")
def gateway_and_log(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[GatewayProcess, Path]]:
    log_file = tmp_path_factory.mktemp("quiet") / "gateway.log"
    env = {"GATEWAY_ADMIN_KEY": ADMIN_KEY, "GATEWAY_LOG_LEVEL": "debug"}
    process = start_gateway(env=env, log_file=log_file)
    yield process, log_file
    assert process.terminate() == 0


@pytest.fixture(scope="module")
def gateway(gateway_and_log: tuple[GatewayProcess, Path]) -> GatewayProcess:
    return gateway_and_log[0]


@pytest.fixture(scope="module")
def scg(gateway: GatewayProcess) -> str:
    return scg_integration(gateway)


def log_lines(log_file: Path) -> list[dict[str, Any]]:
    time.sleep(0.3)  # the access log is flushed once per loop iteration
    return [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]


def no_traceback_or_error(log_file: Path) -> None:
    text = log_file.read_text()
    assert "Traceback" not in text
    assert not [line for line in log_lines(log_file) if line["level"] in {"error", "critical"}]


def test_a_client_gone_mid_body_is_counted_cancelled_and_logged_once_at_debug(
    gateway_and_log: tuple[GatewayProcess, Path], scg: str
) -> None:
    gateway, log_file = gateway_and_log
    with connect(gateway) as sock:
        sock.sendall(
            webhook_head(scg, f"Authorization: {SCG_BASIC}", "X-Request-Id: gone-1", length=1000)
            + b'{"event": '
        )
        time.sleep(0.3)
    requests = f'gateway_http_requests_total{{method="POST",route="{WEBHOOK}",status="%s"}}'
    deadline = time.monotonic() + 5
    while metric(gateway, requests % "499") < 1:
        assert time.monotonic() < deadline, "the abandoned request was never counted"
        time.sleep(0.1)
    assert metric(gateway, requests % "499") == 1
    assert metric(gateway, requests % "500") == 0
    assert metric(gateway, 'gateway_webhooks_total{kind="scg",outcome="cancelled"}') == 1
    assert (
        metric(gateway, 'gateway_webhooks_total{kind="scg",outcome="internal_server_error"}') == 0
    )
    mine = [line for line in log_lines(log_file) if line.get("requestId") == "gone-1"]
    explained = [line for line in mine if line["logger"] != "gateway.access"]
    assert [(line["level"], line["msg"]) for line in explained] == [
        ("debug", "the client closed the connection mid-request")
    ]
    assert [line["status"] for line in mine if line["logger"] == "gateway.access"] == [499]
    no_traceback_or_error(log_file)


def test_an_undecodable_gzip_body_is_415_and_logs_no_traceback(
    gateway_and_log: tuple[GatewayProcess, Path], scg: str
) -> None:
    gateway, log_file = gateway_and_log
    body = b"not gzip at all"
    with connect(gateway) as sock:
        sock.sendall(
            webhook_head(scg, "Content-Encoding: gzip", length=len(body)).replace(
                b"Transfer-Encoding: chunked\r\n", b""
            )
            + body
        )
        outcome = wait_for_close(sock, 5)
    assert outcome.status == 415, outcome
    assert outcome.error_code == "unsupported_media_type"
    no_traceback_or_error(log_file)


def test_a_long_unmatched_path_is_logged_cut(
    gateway_and_log: tuple[GatewayProcess, Path],
) -> None:
    gateway, log_file = gateway_and_log
    path = "/" + "x" * 7000
    with connect(gateway) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: gateway.test\r\nX-Request-Id: long-path\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        outcome = wait_for_close(sock, 5)
    assert outcome.status == 404
    (line,) = [line for line in log_lines(log_file) if line.get("requestId") == "long-path"]
    assert line["route"] == "unmatched"
    assert line["path"] == "/" + "x" * 255 + "...[6745 more characters]"
    assert "x" * 300 not in log_file.read_text()


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /integrations HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GARBAGE\r\n\r\n",
    ],
    ids=["ok", "not-found", "unauthorized", "malformed"],
)
def test_no_answer_names_the_server_software(gateway: GatewayProcess, raw: bytes) -> None:
    with connect(gateway) as sock:
        sock.sendall(raw)
        outcome = wait_for_close(sock, 5)
    assert outcome.status is not None
    assert outcome.header("Server") == "gateway", outcome.answer[:300]
    assert b"aiohttp" not in outcome.answer and b"Python" not in outcome.answer
