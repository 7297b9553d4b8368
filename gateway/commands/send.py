"""`python -m gateway send FILE --integration ID`: post a provider's webhook to the gateway,
signed the way the integration's kind requires, and print the answer (`202 {...}`).

The integration (its kind and credentials) is read through the admin API with the
configured admin key. Kinds whose gateway side holds only a public key (Telnyx, Standard
Webhooks `v1a`) need `--key` (or `--key-file`, which keeps it out of the process list) with
the private key; for the others it replaces the integration's own secret (to try a rotated
or a wrong one). Exit status 0 when the gateway
accepted it (2xx), 1 when it answered anything else.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gateway.commands import CommandError
from gateway.commands.gateway_http import admin_json, admin_key, call, gateway_url
from gateway.commands.webhook_request import Integration, webhook_request
from gateway.config import load_settings


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "send",
        help="sign a provider payload for an integration and post it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="the body to send ('-' for stdin)")
    parser.add_argument("--integration", required=True, help="the integration id")
    parser.add_argument("--url", help="the gateway (default: from the configuration)")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--key", help="the private key or secret to sign with (see above)")
    key.add_argument(
        "--key-file", metavar="PATH", help="read --key from this file (kept out of `ps`)"
    )
    parser.add_argument("--config", help="TOML file (default: $GATEWAY_CONFIG)")
    parser.set_defaults(run=run)


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    body = _read(args.file)
    key = args.key
    if args.key_file is not None:
        key = _read(args.key_file).decode("utf-8", "replace").strip()
    base = gateway_url(args.url, settings)
    path = "/webhooks/" + quote(args.integration, safe="")
    record = admin_json(
        "GET", base + "/integrations/" + quote(args.integration, safe=""), admin_key(settings)
    )
    signed_base = settings.public_url.rstrip("/") if settings.public_url else base
    request = webhook_request(
        Integration.from_record(record),
        body,
        post_url=base + path,
        signed_url=signed_base + path,
        key=key,
        now=int(time.time()),
    )
    answer = call("POST", request.url, body=request.body, headers=request.headers)
    print(answer.status, answer.body.decode("utf-8", "replace"), flush=True)
    return 0 if answer.ok else 1
