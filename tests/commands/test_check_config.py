"""`python -m gateway check-config`: valid files print the effective settings with secrets
masked and where each came from; invalid ones are one line and exit 2, as `serve` says it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.commands.check_config import masked
from gateway.config import Settings
from tests.conftest import ROOT, run_gateway
from tests.running_gateway import MASTER_KEY

ADMIN_KEY = "check-config-admin-key-0123456789abcdef"
VALID = f"""
port = 9090
admin_key = "{ADMIN_KEY}"
jwt_algorithms = ["HS256"]

[[integrations]]
name = "SMS"
kind = "scg"
hubId = "sms-hub"
configuration = {{ username = "scg", password = "scg-password-secret" }}

[[integrations]]
name = "Chat"
kind = "hubster-system"
hubId = "chat"
configuration = {{ publicSigningKey = "{"A" * 32}", privateSigningKey = "{"B" * 32}" }}

[[subscribers]]
url = "https://hooks.example.com/events"
events = ["message"]
"""


def _settings(stdout: str) -> dict[str, tuple[str, str]]:
    """`name = value  # source` lines as {name: (value, source)}."""
    found = {}
    for line in stdout.splitlines():
        if line.startswith("#"):
            continue
        name, _, rest = line.partition(" = ")
        value, _, source = rest.rpartition("  # ")
        found[name] = (value, source)
    return found


def test_effective_settings_with_sources_and_secrets_masked(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(VALID)
    result = run_gateway("check-config", str(config), env={"GATEWAY_PORT": "9191"})
    assert result.returncode == 0, result.stderr
    settings = _settings(result.stdout)
    assert settings["port"] == ("9191", "environment")
    assert settings["admin_key"] == ('"********"', "file")
    assert settings["redis_url"] == ("(unset)", "default")
    assert settings["jwt_secret"] == ("(unset)", "default")
    assert settings["history_seconds"] == ("86400.0", "default")
    assert '"username": "scg"' in settings["integrations"][0]
    assert f'"publicSigningKey": "{"A" * 32}"' in settings["integrations"][0]
    for secret in (ADMIN_KEY, "scg-password-secret", "B" * 32):
        assert secret not in result.stdout
    assert result.stdout.startswith(f"# configuration is valid ({config})")


SECRET_SETTINGS = {"admin_key": "a" * 40, "jwt_secret": "j" * 40, "master_keys": MASTER_KEY}
"""A valid value of every setting that is a secret (marked `repr=False`)."""


def test_every_secret_setting_is_masked() -> None:
    secrets = {name for name, field in Settings.model_fields.items() if field.repr is False}
    assert secrets == set(SECRET_SETTINGS), "give each secret setting a value here"
    env = {f"GATEWAY_{name.upper()}": value for name, value in SECRET_SETTINGS.items()}
    env["GATEWAY_REDIS_URL"] = (
        "redis://user:userinfo-password@127.0.0.1:6379/0?password=query-password&db=1"
    )
    result = run_gateway("check-config", env=env)
    assert result.returncode == 0, result.stderr
    settings = _settings(result.stdout)
    for name in SECRET_SETTINGS:
        assert settings[name] == ('"********"', "environment")
    assert settings["redis_url"][0] == (
        '"redis://user:********@127.0.0.1:6379/0?password=********&db=1"'
    )
    for secret in [*SECRET_SETTINGS.values(), "userinfo-password", "query-password"]:
        assert secret not in result.stdout


def test_a_url_password_is_masked() -> None:
    url = "redis://user:redis-password@127.0.0.1:6379/0"
    assert masked("redis_url", url) == "redis://user:********@127.0.0.1:6379/0"
    in_query = "unix:///run/redis.sock?db=2&password=p%40ss&ssl_password=k"
    assert masked("redis_url", in_query) == (
        "unix:///run/redis.sock?db=2&password=********&ssl_password=********"
    )
    assert masked("redis_url", "redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert masked("jwt_secret", "s" * 40) == "********"
    assert masked("subscribers", [{"url": "u", "secret": "whsec_x"}]) == [
        {"url": "u", "secret": "********"}
    ]


def test_the_example_configuration_is_valid() -> None:
    result = run_gateway("check-config", str(ROOT / "config" / "gateway.example.toml"))
    assert result.returncode == 0, result.stderr


def test_file_from_gateway_config_and_none_at_all() -> None:
    example = str(ROOT / "config" / "gateway.example.toml")
    from_env = run_gateway("check-config", env={"GATEWAY_CONFIG": example})
    assert from_env.stdout.startswith(f"# configuration is valid ({example})")
    bare = run_gateway("check-config")
    assert bare.returncode == 0
    assert _settings(bare.stdout)["port"] == ("8080", "default")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("prot = 1\n", "invalid configuration: unknown setting 'prot'"),
        ('admin_key = "short"\n', "setting 'admin_key'"),
        ('jwt_algorithms = ["RS256"]\n', "JWT algorithm RS256 needs GATEWAY_JWT_PUBLIC_KEY"),
        (
            '[[integrations]]\nname = "x"\nkind = "scg"\nhubId = "h"\n'
            'configuration = { username = "only" }\n',
            "[[integrations]] #1: configuration",
        ),
        ('[[subscribers]]\nurl = "ftp://x"\nevents = ["*"]\n', "[[subscribers]] #1: url"),
    ],
)
def test_invalid_configuration_is_one_line_and_exit_2(
    tmp_path: Path, content: str, expected: str
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(content)
    result = run_gateway("check-config", str(config))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gateway: check-config: ")
    assert expected in lines[0]


def test_unreadable_file_says_so(tmp_path: Path) -> None:
    result = run_gateway("check-config", str(tmp_path / "missing.toml"))
    assert result.returncode == 2
    assert "cannot read configuration file" in result.stderr
