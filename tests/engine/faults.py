"""Fault injection at the engine boundary: one store of an engine (its registry, its
delivery queue, ...) behind switches that a test throws on demand.

- `fail(method, error, times=1)`: the next `times` calls of the method raise `error`
  without reaching the store, so nothing is written, as the engine interface says of a
  failing method (`EngineUnavailable` for a Redis blip, `RegistryConflict` for a
  compare-and-set that lost).
- `after(method, action, when=...)`: once, after a call whose result `when` accepts has
  reached the store, `action()` runs to completion before the caller gets the result (by
  then stale): another writer landing in the window between a read and what the reader
  does with it.
- `calls` names every method called through the wrapper, in order (and `hook after
  <method>` where an `after` action ran), so a test can show that the interleaving it
  meant did happen. Wrappers of one engine's stores may share one `calls` list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class _After:
    action: Callable[[], Awaitable[object]]
    when: Callable[[Any], bool]


class Faults:
    def __init__(self, inner: Any, calls: list[str] | None = None) -> None:
        self.inner = inner
        self.failed: Counter[str] = Counter()
        self.calls = [] if calls is None else calls
        self._failures: dict[str, list[BaseException]] = {}
        self._after: dict[str, _After] = {}

    def fail(self, method: str, error: BaseException, times: int = 1) -> None:
        self._failures.setdefault(method, []).extend([error] * times)

    def after(
        self,
        method: str,
        action: Callable[[], Awaitable[object]],
        when: Callable[[Any], bool] = lambda result: True,
    ) -> None:
        self._after[method] = _After(action, when)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if not callable(method):
            return method

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            pending = self._failures.get(name)
            if pending:
                self.failed[name] += 1
                raise pending.pop(0)
            result = await method(*args, **kwargs)
            hook = self._after.get(name)
            if hook is not None and hook.when(result):
                del self._after[name]
                self.calls.append(f"hook after {name}")
                await hook.action()
            return result

        return call
