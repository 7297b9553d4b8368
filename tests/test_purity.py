"""Pure core, I/O shell: the pure modules import neither aiohttp nor the HTTP shell.

The pure modules are named here and only here: every module of `PURE_PACKAGES` except the
I/O modules listed beside its package, plus `PURE_MODULES` from packages that mix both. Each
is imported in a fresh interpreter whose import system refuses `aiohttp`, `gateway.http`
and `gateway.admin`, so an import anywhere down the chain fails the test, naming the chain.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

PURE_PACKAGES: dict[str, frozenset[str]] = {
    "signing": frozenset(),
    "gateway.events": frozenset(),
    "gateway.credentials": frozenset(),
    "gateway.inbound": frozenset({"handler", "feature"}),
    "gateway.integrations": frozenset({"routes", "declared"}),
}
"""Package -> the modules of it that are the I/O shell (by their last name)."""

PURE_MODULES = (
    "gateway.errors",
    "gateway.times",
    "gateway.agents.tokens",
    "gateway.ws.scope",
    "gateway.ws.frames",
    "gateway.ws.state",
    "gateway.ws.protocol",
    "gateway.delivery.formats",
    "gateway.delivery.hubster_format",
    "gateway.delivery.outcome",
    "gateway.delivery.attempts",
    "gateway.subscribers.bodies",
    "gateway.subscribers.model",
    "gateway.commands.webhook_request",
    "gateway.subscribers.views",
    "gateway.delivery.examples",
    "gateway.delivery.openapi",
    "gateway.reference.schemas",
)

BLOCKED = ("aiohttp", "gateway.http", "gateway.admin")

CONTROL = "gateway.inbound.handler"
"""An I/O module: it must fail to import, or the blocker blocks nothing."""

_IMPORT_EACH = r"""
import importlib, importlib.abc, json, os, sys, traceback

BLOCKED = tuple(json.loads(sys.argv[1]))


class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == blocked or name.startswith(blocked + ".") for blocked in BLOCKED):
            raise ImportError(f"{name} may not be imported here")
        return None


already = sorted(name for name in sys.modules if name.split(".")[0] in ("aiohttp", "gateway"))
sys.meta_path.insert(0, Refuse())
failures = {}
for module in sys.argv[2:]:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        chain = [
            os.path.relpath(frame.filename)
            for frame in traceback.extract_tb(exc.__traceback__)
            if "<frozen" not in frame.filename and "importlib" not in frame.filename
        ]
        failures[module] = f"{exc} (through {' -> '.join(chain)})"
print(json.dumps({"already": already, "failures": failures}))
"""


def _modules_of(package: str, io_modules: frozenset[str]) -> list[str]:
    folder = ROOT.joinpath(*package.split("."))
    found = []
    for path in sorted(folder.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        elif path.stem in io_modules and path.parent == folder:
            continue
        found.append(".".join(parts))
    return found


def pure_modules() -> list[str]:
    modules = [m for package, io in PURE_PACKAGES.items() for m in _modules_of(package, io)]
    return modules + list(PURE_MODULES)


def _import_blocked(modules: list[str]) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH, json.dumps(BLOCKED), *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    outcome: dict[str, object] = json.loads(result.stdout)
    return outcome


def test_every_pure_module_imports_without_aiohttp_or_the_http_shell() -> None:
    modules = pure_modules()
    outcome = _import_blocked([*modules, CONTROL])
    assert outcome["already"] == [], "imported before the test could block anything"
    failures = outcome["failures"]
    assert isinstance(failures, dict)
    assert CONTROL in failures, "the blocker let an I/O module import aiohttp"
    failures.pop(CONTROL)
    assert failures == {}


def test_the_walk_finds_the_adapters_and_leaves_out_the_io_modules() -> None:
    modules = pure_modules()
    for adapter in ("hubster", "scg", "standard", "twilio", "sms", "fields", "media", "base"):
        assert f"gateway.inbound.{adapter}" in modules
    assert "gateway.credentials.schemes" in modules
    assert "gateway.credentials.rotation" in modules
    assert "gateway.integrations.lifecycle" in modules
    assert "signing.standard" in modules
    for io_module in ("gateway.inbound.handler", "gateway.integrations.routes"):
        assert io_module not in modules
