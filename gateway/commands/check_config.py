"""`python -m gateway check-config [FILE]`: validate a configuration as `serve` would at
start-up (settings, JWT keys, declared integrations and subscribers) and print the
effective settings, each with where it came from, secrets masked. An invalid configuration
is one line on stderr and exit status 2, exactly as `serve` reports it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tomllib
from pathlib import Path
from typing import Any

from gateway.agents.tokens import TokenVerifier
from gateway.config import Settings, load_settings
from gateway.engine.factory import check_engine_settings
from gateway.engine.redis.urls import without_secrets
from gateway.integrations.declared import declared_integration
from gateway.subscribers.declared import declared_subscriber

MASK = "********"
# Credential fields shown as they are: identifiers, not secrets.
PUBLIC_CREDENTIALS = frozenset({"publicSigningKey", "publicKey", "username"})
SUBSCRIBER_SECRETS = frozenset({"secret", "privateSigningKey"})


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "check-config",
        help="validate a configuration and print the effective settings",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", nargs="?", help="default: $GATEWAY_CONFIG")
    parser.set_defaults(run=run)


def validate(settings: Settings) -> None:
    """What start-up checks beyond the settings' own types: `ConfigError` for the first
    problem. The engine's own settings are checked without connecting to anything."""
    check_engine_settings(settings)
    TokenVerifier(
        secret=settings.jwt_secret or "generated-at-start-up",
        public_key_pem=settings.jwt_public_key,
        algorithms=settings.jwt_algorithms,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
    )
    now = time.time()
    for index, table in enumerate(settings.integrations):
        declared_integration(index, table, int(now * 1000))
    for index, table in enumerate(settings.subscribers):
        declared_subscriber(index, table, now)


def masked(name: str, value: Any) -> Any:
    """A setting's value as it may be shown: secrets replaced, a Redis URL's passwords too
    (in its user info or its query)."""
    field = Settings.model_fields[name]
    if value is None:
        return None
    if field.repr is False:
        return MASK
    if name == "redis_url":
        return without_secrets(value, MASK)
    if name == "integrations":
        return [_masked_integration(table) for table in value]
    if name == "subscribers":
        return [_masked_table(table, SUBSCRIBER_SECRETS) for table in value]
    return value


def _masked_table(table: dict[str, Any], secrets: frozenset[str]) -> dict[str, Any]:
    return {key: MASK if key in secrets else value for key, value in table.items()}


def _masked_integration(table: dict[str, Any]) -> dict[str, Any]:
    shown = dict(table)
    configuration = table.get("configuration")
    if isinstance(configuration, dict):
        shown["configuration"] = {
            key: value if key in PUBLIC_CREDENTIALS else MASK
            for key, value in configuration.items()
        }
    return shown


def effective_settings(settings: Settings, file_keys: set[str]) -> list[str]:
    """One `name = value  # source` line per setting."""
    lines = []
    for name in Settings.model_fields:
        value = masked(name, getattr(settings, name))
        shown = "(unset)" if value is None else json.dumps(value, ensure_ascii=False)
        if f"GATEWAY_{name.upper()}" in os.environ:
            source = "environment"
        elif name in file_keys:
            source = "file"
        else:
            source = "default"
        lines.append(f"{name} = {shown}  # {source}")
    return lines


def run(args: argparse.Namespace) -> int:
    path = args.file or os.environ.get("GATEWAY_CONFIG")
    settings = load_settings(path)
    validate(settings)
    file_keys: set[str] = set()
    if path:
        with Path(path).open("rb") as handle:  # already read once by load_settings
            file_keys = set(tomllib.load(handle))
    print(f"# configuration is valid ({path or 'no file: defaults and environment'})")
    for line in effective_settings(settings, file_keys):
        print(line)
    if settings.admin_key is None or settings.jwt_secret is None:
        print("# admin_key / jwt_secret unset: serve generates them for each run")
    return 0
