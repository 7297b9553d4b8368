"""Configuration loading: the shipped example, precedence and validation."""

from __future__ import annotations

import itertools
import os
import re
import tomllib
from pathlib import Path

import pytest

from gateway.config import DEFAULT_RETRY_SCHEDULE, ConfigError, Settings, load_settings
from gateway.engine.memory import MemoryEngine
from gateway.http.app import build_app
from gateway.integrations.declared import declared_integration

ROOT = Path(__file__).resolve().parent.parent
KEY_LINE = re.compile(r"# \w+ = ")


def test_shipped_example_loads_with_contract_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("GATEWAY_"):
            monkeypatch.delenv(key)
    settings = load_settings(str(ROOT / "config" / "gateway.example.toml"))
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.retry_schedule == list(DEFAULT_RETRY_SCHEDULE)
    assert settings.ws_max_backlog_bytes == 1048576
    assert settings.max_body_bytes == 1048576
    assert (settings.dedup_seconds, settings.history_max_bytes) == (259200, 268435456)
    assert settings.subscriber_max_queued_bytes == settings.subscriber_max_dead_bytes == 67108864
    assert settings.delivery_lease_margin_seconds == 30


def test_environment_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_RETRY_SCHEDULE", "0, 1.5,30")
    monkeypatch.setenv("GATEWAY_JWT_ALGORITHMS", "RS256,EdDSA")
    settings = load_settings()
    assert settings.retry_schedule == [0.0, 1.5, 30.0]
    assert settings.jwt_algorithms == ["RS256", "EdDSA"]


def test_environment_wins_over_file_and_overrides_win_over_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "g.toml"
    config.write_text("port = 9001\nhistory_seconds = 60\n")
    monkeypatch.setenv("GATEWAY_PORT", "9002")
    settings = load_settings(str(config))
    assert settings.port == 9002
    assert settings.history_seconds == 60
    assert load_settings(str(config), port=9003).port == 9003


def test_secrets_do_not_appear_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_ADMIN_KEY", "admin-secret-value-0123456789abcdef")
    monkeypatch.setenv("GATEWAY_JWT_SECRET", "jwt-secret-value-0123456789abcdefghij")
    text = repr(load_settings())
    assert "admin-secret-value-0123456789abcdef" not in text
    assert "jwt-secret-value-0123456789abcdefghij" not in text


def test_unknown_key_names_it(tmp_path: Path) -> None:
    config = tmp_path / "g.toml"
    config.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings(str(config))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GATEWAY_RETRY_SCHEDULE", "0,nan"),
        ("GATEWAY_RETRY_SCHEDULE", "inf"),
        ("GATEWAY_HISTORY_SECONDS", "inf"),
        ("GATEWAY_DELIVERY_TIMEOUT_SECONDS", "nan"),
    ],
)
def test_non_finite_numbers_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="finite number"):
        load_settings()


def test_shipped_example_integrations_are_valid_once_uncommented() -> None:
    """The commented `[[integrations]]` tables of the example are declarations the gateway
    accepts as they stand, so copying one in is a working start."""
    text = (ROOT / "config" / "gateway.example.toml").read_text()
    blocks = text.split("# [[integrations]]\n")[1:]
    tables = [
        "\n".join(
            line.removeprefix("# ")
            for line in itertools.takewhile(KEY_LINE.match, block.splitlines())
        )
        for block in blocks
    ]
    declared = tomllib.loads("".join(f"[[integrations]]\n{table}\n" for table in tables))
    integrations = [
        declared_integration(index, table, 0)
        for index, table in enumerate(declared["integrations"])
    ]
    assert {integration.kind for integration in integrations} >= {"hubster-system", "telnyx"}


@pytest.mark.parametrize("weak", ["admin_key", "jwt_secret"])
def test_an_app_is_never_built_with_a_weak_secret(weak: str) -> None:
    """The floor holds wherever the secrets come from, settings or not (tests included)."""
    secrets = {"admin_key": "k" * 32, "jwt_secret": "j" * 32, weak: "x" * 31}
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        build_app(Settings(port=0), MemoryEngine(), **secrets)
