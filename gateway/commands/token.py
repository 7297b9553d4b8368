"""`python -m gateway token`: an agent JWT on stdout, for the console, `tail` or a script.

Minted here with the configured HS256 secret (`GATEWAY_JWT_SECRET`), exactly as
`PUT /agent/auth` mints it; or, with `--url`, asked of a running gateway through that route
with the configured admin key (when the secret lives only there).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from gateway.agents.tokens import MINT_ALGORITHM, mint
from gateway.commands import CommandError
from gateway.commands.gateway_http import admin_json, admin_key, gateway_url
from gateway.config import Settings, load_settings

DEFAULT_TTL_SECONDS = 3600
MAX_TTL_SECONDS = 86400


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "token",
        help="print an agent token (JWT)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--agent", required=True, help="the agent id (the token's sub)")
    parser.add_argument(
        "--hub",
        dest="hubs",
        metavar="HUB",
        action="append",
        required=True,
        help="a hub it may see (repeat)",
    )
    parser.add_argument(
        "--conversation",
        dest="conversations",
        metavar="ID",
        action="append",
        help="narrow to this conversation (repeat; default: every conversation of the hubs)",
    )
    parser.add_argument(
        "--ttl",
        type=int,
        metavar="S",
        default=DEFAULT_TTL_SECONDS,
        help="lifetime in seconds (default 3600)",
    )
    parser.add_argument("--name", help="the agent's display name")
    parser.add_argument("--url", help="mint through this gateway's PUT /agent/auth instead")
    parser.add_argument("--config", help="TOML file (default: $GATEWAY_CONFIG)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.ttl <= MAX_TTL_SECONDS:
        raise CommandError(f"--ttl must be from 1 to {MAX_TTL_SECONDS} seconds")
    settings = load_settings(args.config)
    hubs = list(dict.fromkeys(args.hubs))
    if args.url:
        print(_minted_by_gateway(args, settings, hubs), flush=True)
    else:
        print(_minted_here(args, settings, hubs), flush=True)
    return 0


def _minted_here(args: argparse.Namespace, settings: Settings, hubs: list[str]) -> str:
    if not settings.jwt_secret:
        raise CommandError(
            "no JWT secret configured: set GATEWAY_JWT_SECRET (or jwt_secret in the "
            "configuration), or give --url to mint through a running gateway"
        )
    if MINT_ALGORITHM not in settings.jwt_algorithms:
        raise CommandError(f"the gateway is configured not to accept {MINT_ALGORITHM} tokens")
    return mint(
        settings.jwt_secret,
        agent_id=args.agent,
        name=args.name,
        hub_ids=hubs,
        conversation_ids=args.conversations,
        audience=settings.jwt_audience,
        issued_at=int(time.time()),
        ttl_seconds=args.ttl,
    )


def _minted_by_gateway(args: argparse.Namespace, settings: Settings, hubs: list[str]) -> str:
    body: dict[str, Any] = {"agentId": args.agent, "hubIds": hubs, "ttlSeconds": args.ttl}
    if args.name is not None:
        body["name"] = args.name
    if args.conversations:
        body["conversationIds"] = args.conversations
    url = gateway_url(args.url, settings) + "/agent/auth"
    answer = admin_json("PUT", url, admin_key(settings), body)
    try:
        token = answer["agentAuth"]["jwt"]
    except (KeyError, TypeError):
        token = None
    if not isinstance(token, str):
        raise CommandError(f"PUT {url}: the answer holds no agentAuth.jwt")
    return token
