"""The README's walkthrough, run exactly as written (on a free port instead of 8080)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess

from tests.conftest import ROOT, gateway_env


def _walkthrough_script() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Walkthrough", 1)[1]
    return section.split("```sh\n", 1)[1].split("\n```\n", 1)[0]


def _json_objects(text: str) -> list[dict[str, object]]:
    """Every JSON object printed, even when two writers shared a line."""
    decoder = json.JSONDecoder()
    found, at = [], text.find("{")
    while at != -1:
        value, end = decoder.raw_decode(text, at)
        found.append(value)
        at = text.find("{", end)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_readme_walkthrough_shows_the_event_arrive_once() -> None:
    port = _free_port()
    script = _walkthrough_script()
    assert "GATEWAY_PORT=8080" in script
    proc = subprocess.Popen(
        ["bash", "-e", "-c", script.replace("GATEWAY_PORT=8080", f"GATEWAY_PORT={port}")],
        cwd=ROOT,
        env=gateway_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = _json_objects(result.stdout)
    assert {"accepted": 1, "duplicates": 0} in lines
    assert {"accepted": 0, "duplicates": 1} in lines
    events = [line for line in lines if str(line.get("type", "")).startswith("message:")]
    assert len(events) == 1
    assert events[0]["type"] == "message:customer"
    assert events[0]["message"]["text"] == "Is my package coming today?"  # type: ignore[index]
    assert "connected as agent-1 to sms-hub" in result.stderr
