"""Command line: `python -m gateway serve` and the operator's commands (`token`, `send`,
`tail`, `check-config`, `openapi`, `reencrypt`, see `gateway/commands/`). The benchmark is
its own tool: `python -m bench`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from gateway import __version__
from gateway.commands import CommandError, check_config, openapi, reencrypt, send, tail, token
from gateway.config import ConfigError, load_settings
from gateway.http.server import StartupError, WorkerRole, run
from gateway.http.supervisor import supervise
from gateway.logs import configure_logging

EXIT_BAD_START = 2


class _OneLineParser(argparse.ArgumentParser):
    """Usage mistakes are one line naming the problem, like every other start-up error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_START, f"gateway: {self.prog}: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="python -m gateway", description=__doc__)
    parser.add_argument("--version", action="version", version=f"gateway {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the gateway")
    serve_cmd.add_argument("--config", help="TOML file (default: $GATEWAY_CONFIG)")
    serve_cmd.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve_cmd.add_argument("--port", type=int, help="port to listen on (default 8080; 0 = any)")
    serve_cmd.add_argument(
        "--workers",
        type=int,
        help="worker processes sharing the port, Redis engine only (default 1; docs/deploy.md)",
    )
    # A worker of `--workers N`, started by the supervisor (gateway/http/supervisor.py):
    # its id, the supervisor's pid, and the restarts of its slot it is to count.
    serve_cmd.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    serve_cmd.add_argument("--supervisor", type=int, default=0, help=argparse.SUPPRESS)
    serve_cmd.add_argument("--restarts", type=int, default=0, help=argparse.SUPPRESS)
    for command in (token, send, tail, check_config, openapi, reencrypt):
        command.add_parser(commands)
    return parser


def _serve(args: argparse.Namespace) -> int:
    """A worker's start-up refusal goes to its supervisor (its stdout), which says it once
    for all workers, or logs it with the worker's id when restarting one."""
    config_path = args.config or os.environ.get("GATEWAY_CONFIG")
    worker = None
    if args.worker is not None:
        worker = WorkerRole(args.worker, args.supervisor or os.getppid(), args.restarts)
    try:
        settings = load_settings(config_path, host=args.host, port=args.port, workers=args.workers)
        configure_logging(settings.log_level, worker=args.worker)
        if settings.workers > 1 and worker is None:
            return supervise(settings, config_path)
        return run(settings, worker=worker)
    except (ConfigError, StartupError) as exc:
        print(f"gateway: {exc}", file=sys.stdout if worker else sys.stderr, flush=True)
        return EXIT_BAD_START


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    try:
        return int(args.run(args))
    except (ConfigError, CommandError) as exc:
        print(f"gateway: {args.command}: {exc}", file=sys.stderr, flush=True)
        return EXIT_BAD_START
    except BrokenPipeError:  # `... | head`: the reader is gone, so are we (quietly)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
