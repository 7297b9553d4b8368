"""`python -m gateway openapi`: print the OpenAPI document a gateway serves at /openapi.json
(`python -m gateway openapi > docs/openapi.json` regenerates the committed copy).

The document is made from the route table of an app built with default settings: the
routes do not depend on settings, so neither the environment nor a configuration file is
read, and the output is the same on every machine.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gateway.config import Settings
from gateway.engine.memory import MemoryEngine
from gateway.http.app import build_app
from gateway.http.appkeys import ROUTE_TABLE
from gateway.reference.routes import document_bytes

PLACEHOLDER_SECRET = "x" * 32
"""The app is never served: its keys only have to pass the length check."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "openapi",
        help="print the OpenAPI document (python -m gateway openapi > docs/openapi.json)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    app = build_app(
        Settings.model_construct(),
        MemoryEngine(),
        admin_key=PLACEHOLDER_SECRET,
        jwt_secret=PLACEHOLDER_SECRET,
    )
    sys.stdout.buffer.write(document_bytes(app[ROUTE_TABLE]))
    sys.stdout.flush()
    return 0
