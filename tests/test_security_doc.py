"""docs/security.md stays true: every limit setting against hostile clients (issue 16's
list, and the others its tables name) is listed there with its default, and in the example
configuration; every setting its tables name exists with that default; the codes a client
sees are named; and its HAProxy example is a configuration HAProxy accepts."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.config import Settings
from gateway.ws.frames import MAX_FILTER_CHARS
from gateway.ws.protocol import BURST_SECONDS

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "security.md").read_text()
EXAMPLE = (ROOT / "config" / "gateway.example.toml").read_text()
LIMITS = [
    "http_header_timeout_seconds",
    "http_body_timeout_seconds",
    "http_send_timeout_seconds",
    "http_keepalive_seconds",
    "max_connections",
    "ws_max_unauthenticated",
    "max_activities_per_webhook",
    "max_normalised_bytes",
    "ws_client_frames_per_second",
    "ws_max_filters",
    "subscriber_max_queued_bytes",
    "subscriber_max_dead_bytes",
    "dedup_seconds",
    "max_body_bytes",
    "history_max_bytes",
    "ws_auth_timeout_seconds",
    "ws_max_backlog_bytes",
    "ws_heartbeat_seconds",
]
TABLE_ROW = re.compile(r"^\|[^|\n]*\| `GATEWAY_([A-Z_]+)` \| ([^|\n]+) \|", re.MULTILINE)


def default_text(name: str) -> str:
    value = Settings.model_fields[name].default
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(int(value)) if float(value).is_integer() else str(value)


def documented_defaults() -> dict[str, str]:
    """Setting name → the default cell of its row in the doc's tables."""
    return {name.lower(): cell.strip() for name, cell in TABLE_ROW.findall(DOC)}


@pytest.mark.parametrize("name", LIMITS)
def test_each_limit_is_documented_with_its_default(name: str) -> None:
    cell = documented_defaults().get(name)
    assert cell is not None, f"GATEWAY_{name.upper()} is not in docs/security.md's tables"
    assert cell.split(" (")[0] == default_text(name), cell
    assert re.search(rf"^{name} = {default_text(name)}$", EXAMPLE, re.MULTILINE), name


def test_every_setting_the_tables_name_exists_with_that_default() -> None:
    for name, cell in documented_defaults().items():
        assert name in Settings.model_fields, f"GATEWAY_{name.upper()} is not a setting"
        assert cell.split(" (")[0] == default_text(name), (name, cell)


def test_the_derived_limits_are_stated_as_the_code_has_them() -> None:
    defaults = documented_defaults()
    burst = int(Settings.model_fields["ws_client_frames_per_second"].default * BURST_SECONDS)
    assert defaults["ws_client_frames_per_second"].endswith(f"(a burst of {burst})")
    assert defaults["ws_max_filters"].endswith(f"(of at most {MAX_FILTER_CHARS} characters)")


@pytest.mark.parametrize(
    "phrase",
    [
        "408 `request_timeout`",
        "431 `request_header_fields_too_large`",
        "413 `payload_too_large`",
        "429 `rate_limited`",
        "503 `unavailable`",
        "status label `499`",
        "outcome `cancelled`",
        "| 4429 | `rate_limited`",
        "| 4400 | `invalid_payload`",
        "## What a reverse proxy in front should add",
    ],
)
def test_the_codes_a_client_sees_are_named(phrase: str) -> None:
    assert phrase in " ".join(DOC.split())


def test_the_haproxy_example_is_valid(tmp_path: Path) -> None:
    (example,) = re.findall(r"```\n(defaults\n.*?)```", DOC, re.DOTALL)
    config = tmp_path / "haproxy.cfg"
    # The certificate is the operator's; the rest is checked as written.
    config.write_text(re.sub(r"bind :443 ssl crt \S+", "bind 127.0.0.1:8443", example))
    shutil.copytree(ROOT / "deploy" / "errors", tmp_path / "errors")  # as shipped beside it
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    checked = subprocess.run(
        [haproxy, "-c", "-f", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
