"""Bench command line (scenarios are added by the bench harness)."""

from __future__ import annotations


def main(argv: list[str]) -> int:
    print("gateway bench: no scenarios are available in this build")
    return 2
