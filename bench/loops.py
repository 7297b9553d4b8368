"""Which event loop a bench process runs on: `asyncio`'s own or uvloop (when installed).

The gateway and its baselines run on the loop `--loop` names (the same for both sides);
the load generator runs on the fastest one installed.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable

ASYNCIO, UVLOOP = "asyncio", "uvloop"
FASTEST = UVLOOP if importlib.util.find_spec("uvloop") is not None else ASYNCIO
LOOPS = (ASYNCIO, UVLOOP)


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """A factory for `asyncio.Runner`; `ModuleNotFoundError` for uvloop when it is missing."""
    if name == UVLOOP:
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def running_loop_name() -> str:
    module = type(asyncio.get_running_loop()).__module__
    return UVLOOP if module.startswith(UVLOOP) else ASYNCIO
