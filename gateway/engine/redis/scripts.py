"""Lua scripts: one file per atomic step under `lua/`, registered with redis-py (which runs
them by SHA and loads them again on NOSCRIPT, e.g. after Redis restarted) and loaded once at
start-up. A script may start with shared helpers: `Scripts.register("a", "b")` runs the
concatenation of `lua/a.lua` and `lua/b.lua`."""

from __future__ import annotations

import asyncio
import functools
from importlib import resources
from typing import TYPE_CHECKING

from redis.commands.core import AsyncScript

if TYPE_CHECKING:
    from gateway.engine.redis.connection import Client


@functools.cache
def lua(name: str) -> str:
    return (resources.files(__package__) / "lua" / f"{name}.lua").read_text(encoding="utf-8")


class Scripts:
    """The scripts of one client, so that start-up can load all of them in one round trip."""

    def __init__(self, redis: Client) -> None:
        self._redis = redis
        self._all: list[AsyncScript] = []

    def register(self, *names: str) -> AsyncScript:
        script = self._redis.register_script("\n".join(lua(name) for name in names))
        self._all.append(script)
        return script

    async def load(self) -> None:
        """Every script into Redis's cache (on a cluster, into every primary's)."""
        await asyncio.gather(*(self._redis.script_load(script.script) for script in self._all))
