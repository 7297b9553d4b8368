"""`python -m gateway reencrypt [--config FILE]`: seal every stored credential again under
the first of `GATEWAY_MASTER_KEYS`, the last step of rotating a master key.

Rotation: put the new key first and keep the old one after it (`GATEWAY_MASTER_KEYS=new,old`)
on every process, run this once, then drop the old key. Records sealed under another listed
key, or not sealed at all (stored before master keys were set), are rewritten by
compare-and-set, so a change an admin makes meanwhile is kept; a record sealed under a key
not listed stops it with one line naming the record and the key id, never a key.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from gateway.commands import CommandError
from gateway.config import load_settings
from gateway.credentials.sealing import SealedRegistry
from gateway.engine.base import EngineUnavailable
from gateway.engine.factory import open_engine


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "reencrypt",
        help="seal every stored credential under the first master key",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="TOML file (default: $GATEWAY_CONFIG)")
    parser.set_defaults(run=run)


async def reencrypt(config_path: str | None) -> str:
    settings = load_settings(config_path)
    if not settings.redis_url:
        raise CommandError(
            "nothing to re-encrypt: the memory engine keeps nothing between runs "
            "(set GATEWAY_REDIS_URL)"
        )
    engine = await open_engine(settings)
    try:
        registry = engine.registry
        assert isinstance(registry, SealedRegistry)  # Redis always seals
        rewritten = await registry.reencrypt()
    except EngineUnavailable as exc:
        raise CommandError(exc.detail or str(exc)) from None
    finally:
        await engine.close()
    counts = ", ".join(f"{count} {kind} records" for kind, count in rewritten.items())
    return f"re-encrypted {counts} under master key id {registry.keys.current_id}"


def run(args: argparse.Namespace) -> int:
    print(asyncio.run(reencrypt(args.config or os.environ.get("GATEWAY_CONFIG"))), flush=True)
    return 0
