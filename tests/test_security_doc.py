"""docs/security.md stays true: every limit setting of the hostile-clients group is listed
there and in the example configuration with its default, and its HAProxy example is a
configuration HAProxy accepts."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "security.md").read_text()
EXAMPLE = (ROOT / "config" / "gateway.example.toml").read_text()
LIMITS = [
    "http_header_timeout_seconds",
    "http_body_timeout_seconds",
    "http_keepalive_seconds",
    "max_connections",
    "max_activities_per_webhook",
    "max_normalised_bytes",
    "max_body_bytes",
    "ws_max_unauthenticated",
    "ws_client_frames_per_second",
    "ws_max_filters",
]


@pytest.mark.parametrize("name", LIMITS)
def test_each_limit_is_documented_with_its_default(name: str) -> None:
    value = Settings.model_fields[name].default
    default = str(int(value)) if float(value).is_integer() else str(value)
    row = re.search(rf"\| `GATEWAY_{name.upper()}` \| ([^|]+) \|", DOC)
    assert row is not None, f"GATEWAY_{name.upper()} is not in docs/security.md's tables"
    assert row[1].strip() == default, row[0]
    assert re.search(rf"^{name} = {default}$", EXAMPLE, re.MULTILINE), name


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
