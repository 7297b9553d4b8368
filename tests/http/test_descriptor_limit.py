"""The connection cap needs descriptors to answer with: start-up raises the open-file limit
to fit `max_connections`, and warns when the hard limit does not allow it."""

from __future__ import annotations

import resource
import subprocess
import sys

from tests.conftest import ROOT

PROGRAM = (
    "import resource, sys\n"
    "from gateway.http.connections import raise_descriptor_limit\n"
    "raise_descriptor_limit(int(sys.argv[1]))\n"
    "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
)


def soft_limit_after(max_connections: int, soft: int, hard: int) -> tuple[int, str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(max_connections)],
        cwd=ROOT,
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return int(done.stdout), done.stderr


def test_the_soft_limit_is_raised_to_fit_the_cap() -> None:
    assert soft_limit_after(100, 300, 600) == (356, "")


def test_a_hard_limit_too_low_is_used_whole_and_warned_about() -> None:
    soft, warning = soft_limit_after(1000, 300, 600)
    assert soft == 600
    assert "open-file limit 600 is below max_connections" in warning
    assert "ulimit -n 1256" in warning


def test_a_limit_already_high_enough_is_left_alone() -> None:
    assert soft_limit_after(100, 500, 600) == (500, "")
