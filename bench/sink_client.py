"""Reads and resets the sink's arrival record (the sink runs in its own process)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

DRAIN_POLL_SECONDS = 0.25
QUIET_SECONDS = 5.0


async def reset(base_url: str) -> None:
    async with aiohttp.ClientSession(base_url) as session, session.post("/_reset") as answer:
        answer.raise_for_status()


async def arrivals(base_url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession(base_url) as session, session.get("/_stats") as answer:
        answer.raise_for_status()
        stats: dict[str, Any] = await answer.json()
        return stats


async def drained(base_url: str, expected: int, at_most_seconds: float) -> dict[str, Any]:
    """Arrivals once `expected` bodies came in, or nothing new came for `QUIET_SECONDS` after
    the first, or `at_most_seconds` ran out: deliveries trail the webhooks that caused them,
    and a large backlog can take a while to start."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + at_most_seconds
    stats = await arrivals(base_url)
    quiet_since = loop.time()
    while stats["count"] < expected and loop.time() < give_up:
        await asyncio.sleep(DRAIN_POLL_SECONDS)
        latest = await arrivals(base_url)
        if latest["count"] != stats["count"]:
            quiet_since = loop.time()
        elif latest["count"] and loop.time() - quiet_since > QUIET_SECONDS:
            return latest
        stats = latest
    return stats


def deliveries_per_second(stats: dict[str, Any]) -> float:
    seconds = (stats["lastNs"] - stats["firstNs"]) / 1e9
    return (stats["count"] - 1) / seconds if stats["count"] > 1 and seconds > 0 else 0.0
