"""`python -m gateway send`, `token` and `--version` as real processes against a running
gateway."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

import signing
from gateway import __version__
from tests.conftest import ROOT, gateway_env, run_gateway
from tests.running_gateway import (
    ADMIN_KEY,
    FIXTURES,
    GATEWAY_ENV,
    HUBSTER_HUB,
    JWT_SECRET,
    RunningGateway,
    running,
)


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    with running() as gateway:
        yield gateway


def command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_gateway(*args, env={**GATEWAY_ENV, **(env or {})})


def one_line_error(result: subprocess.CompletedProcess[str], command_name: str) -> str:
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"gateway: {command_name}: ")
    return lines[0]


def test_version() -> None:
    result = run_gateway("--version")
    assert (result.returncode, result.stdout) == (0, f"gateway {__version__}\n")


@pytest.mark.parametrize("name", ["token", "send", "tail", "check-config"])
def test_every_command_has_help(name: str) -> None:
    result = run_gateway(name, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: python -m gateway {name}")


def test_token_minted_here_with_the_configured_secret() -> None:
    result = command(
        "token", "--agent", "ana", "--hub", "h1", "--hub", "h2", "--hub", "h1",
        "--conversation", "c1", "--ttl", "120", "--name", "Ana",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"], audience="gateway")
    assert claims["sub"] == "ana" and claims["name"] == "Ana"
    assert claims["hubs"] == ["h1", "h2"] and claims["conversations"] == ["c1"]
    assert claims["exp"] - claims["iat"] == 120


def test_token_through_the_gateway_needs_no_local_secret(gateway: RunningGateway) -> None:
    result = run_gateway("token", "--agent", "ana", "--hub", "h1", "--url", gateway.url,
                         env={"GATEWAY_ADMIN_KEY": ADMIN_KEY})  # fmt: skip
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), JWT_SECRET, algorithms=["HS256"], audience="gateway")
    assert (claims["sub"], claims["hubs"]) == ("ana", ["h1"])


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ((), {"GATEWAY_JWT_SECRET": ""}, "no JWT secret configured"),
        (("--ttl", "0"), {}, "--ttl must be from 1 to 86400 seconds"),
        (("--url", "http://127.0.0.1:9"), {}, "cannot reach http://127.0.0.1:9/agent/auth"),
    ],
)
def test_token_problems_are_one_line_and_exit_2(
    args: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    env = {key: value for key, value in {**GATEWAY_ENV, **env}.items() if value}
    result = run_gateway("token", "--agent", "a", "--hub", "h", *args, env=env)
    assert expected in one_line_error(result, "token")


def test_token_refused_by_the_gateway(gateway: RunningGateway) -> None:
    wrong_key = {"GATEWAY_ADMIN_KEY": "not-the-admin-key-but-long-enough-0123"}
    result = command("token", "--agent", "a", "--hub", "h", "--url", gateway.url, env=wrong_key)
    assert "401 unauthorized: The admin key is missing or wrong." in one_line_error(result, "token")


# -- send --------------------------------------------------------------------------------------

V1A = signing.standard.generate_ed25519_key_pair()
TELNYX = signing.telnyx.generate_key_pair()

SENDS: dict[str, tuple[str, str, dict[str, Any], str | None]] = {
    # id: (kind, fixture, configuration, --key)
    "hubster-system": ("hubster-system", "hubster-system-messages.json", {}, None),
    "hubster-direct": ("hubster-direct", "hubster-direct-agent-image.json", {}, None),
    "standard-v1": ("standard", "standard-invoice-paid.json", {}, None),
    "standard-v1a": (
        "standard",
        "standard-invoice-paid.json",
        {"publicKey": V1A.public},
        V1A.secret,
    ),
    "twilio-form": ("twilio", "twilio-inbound-sms.form", {"authToken": "tw-token"}, None),
    "twilio-json": ("twilio", "twilio-inbound-sms.json", {"authToken": "tw-token"}, None),
    "scg-basic": ("scg", "scg-mo-message.json", {"username": "scg", "password": "pw-1"}, None),
    "scg-bearer": ("scg", "scg-mo-message.json", {"bearerToken": "scg-bearer"}, None),
    "telnyx": (
        "telnyx",
        "telnyx-message-received.json",
        {"publicKey": TELNYX.public_key},
        TELNYX.private_key,
    ),
}


def _integration(gateway: RunningGateway, kind: str, configuration: dict[str, Any]) -> str:
    hub = HUBSTER_HUB if kind.startswith("hubster") else "cli-hub"
    return str(gateway.integration(kind, hub, **configuration)["integrationId"])


def _send(gateway: RunningGateway, fixture: str, integration: str, *args: str) -> Any:
    return command("send", str(FIXTURES / fixture), "--integration", integration,
                   "--url", gateway.url, *args)  # fmt: skip


@pytest.mark.parametrize("case", SENDS)
def test_send_signs_each_kind_so_the_gateway_accepts_it(gateway: RunningGateway, case: str) -> None:
    kind, fixture, configuration, key = SENDS[case]
    integration = _integration(gateway, kind, configuration)
    first = _send(gateway, fixture, integration, *(["--key", key] if key else []))
    assert first.returncode == 0, first.stderr
    status, _, body = first.stdout.strip().partition(" ")
    assert status == "202"
    accepted = json.loads(body)
    assert accepted["accepted"] >= 1 and accepted["duplicates"] == 0
    if kind == "standard":  # webhook-id comes from the body: sending it again is a redelivery
        again = _send(gateway, fixture, integration, *(["--key", key] if key else []))
        assert json.loads(again.stdout.partition(" ")[2]) == {"accepted": 0, "duplicates": 1}


def test_send_with_a_wrong_key_prints_the_refusal_and_exits_1(gateway: RunningGateway) -> None:
    integration = _integration(gateway, "hubster-system", {})
    result = _send(gateway, "hubster-system-messages.json", integration, "--key", "0" * 32)
    assert result.returncode == 1
    status, _, body = result.stdout.strip().partition(" ")
    assert (status, json.loads(body)["error"]["code"]) == ("403", "signature_invalid")


@pytest.mark.parametrize(
    ("kind", "configuration", "args", "expected"),
    [
        ("standard", {"publicKey": V1A.public}, (), "give --key whsk_"),
        ("standard", {}, ("--key", "whsk_not-base64!"), "--key: "),
        ("scg", {"bearerToken": "t"}, ("--key", "x"), "scg integrations take no --key"),
        ("telnyx", {"publicKey": TELNYX.public_key}, (), "give --key with the Base64"),
    ],
)
def test_send_problems_are_one_line_and_exit_2(
    gateway: RunningGateway,
    kind: str,
    configuration: dict[str, Any],
    args: tuple[str, ...],
    expected: str,
) -> None:
    integration = _integration(gateway, kind, configuration)
    result = _send(gateway, "standard-invoice-paid.json", integration, *args)
    assert expected in one_line_error(result, "send")


def test_send_of_an_unknown_integration_or_missing_file(gateway: RunningGateway) -> None:
    missing = _send(gateway, "standard-invoice-paid.json", "no-such-integration")
    assert "404 not_found" in one_line_error(missing, "send")
    no_file = command("send", "/nonexistent.json", "--integration", "x", "--url", gateway.url)
    assert "cannot read /nonexistent.json: No such file or directory" in one_line_error(
        no_file, "send"
    )
    no_key = run_gateway(
        "send", str(FIXTURES / "scg-mo-message.json"), "--integration", "x", "--url", gateway.url
    )
    assert "no admin key configured" in one_line_error(no_key, "send")


def test_send_reads_stdin(gateway: RunningGateway) -> None:
    integration = _integration(gateway, "scg", {"bearerToken": "stdin-bearer"})
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "send", "-", "--integration", integration,
         "--url", gateway.url],
        input=(FIXTURES / "scg-receipt-delivered.json").read_bytes(),
        capture_output=True,
        env=gateway_env(GATEWAY_ENV),
        cwd=ROOT,
        timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"202 ")


def test_send_reads_the_key_from_a_file(gateway: RunningGateway, tmp_path: Path) -> None:
    """`--key-file` keeps a private key out of the process list; `--key` and it exclude
    each other."""
    integration = _integration(gateway, "telnyx", {"publicKey": TELNYX.public_key})
    key_file = tmp_path / "telnyx.key"
    key_file.write_text(TELNYX.private_key + "\n")
    sent = _send(gateway, "telnyx-message-received.json", integration, "--key-file", str(key_file))
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("202 ")
    both = _send(gateway, "telnyx-message-received.json", integration,
                 "--key-file", str(key_file), "--key", "x")  # fmt: skip
    assert both.returncode == 2
    assert "argument --key: not allowed with argument --key-file" in both.stderr
    missing = _send(gateway, "telnyx-message-received.json", integration,
                    "--key-file", str(tmp_path / "none"))  # fmt: skip
    assert "cannot read" in one_line_error(missing, "send")
