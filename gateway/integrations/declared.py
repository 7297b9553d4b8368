"""Integrations declared in the configuration file (`[[integrations]]`), created at start-up.

Start-up is idempotent: each declared integration has a stable id (given, or derived from
hub, kind and name), and one that already exists is left as it is, with the credentials it
was given or generated then. Creation is the registry's create-if-absent, so N processes
starting together end with one record and one set of generated keys. A declaration the
admin API would refuse stops start-up with a `ConfigError` naming the table and the field.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from gateway.config import ConfigError
from gateway.errors import GatewayError, describe_validation_error
from gateway.http.appkeys import ENGINE, SETTINGS
from gateway.integrations.lifecycle import new_integration
from gateway.integrations.model import DeclaredIntegration, Integration
from gateway.integrations.routes import INTEGRATIONS
from gateway.integrations.store import IntegrationStore
from gateway.times import now_ms

_DECLARED_NAMESPACE = uuid.UUID("6f1d2c3e-9a57-4d1b-8c0e-3b5a7d9e1f20")


def _declared_id(declared: DeclaredIntegration) -> str:
    if declared.integration_id:
        return declared.integration_id
    seed = "\n".join((declared.hub_id, declared.kind, declared.name))
    return str(uuid.uuid5(_DECLARED_NAMESPACE, seed))


def declared_integration(index: int, table: dict[str, Any], now_ms: int) -> Integration:
    """The integration the `index`th table declares, or ConfigError saying what is wrong."""
    where = f"[[integrations]] #{index + 1}"
    try:
        declared = DeclaredIntegration.model_validate(table)
        return new_integration(declared, _declared_id(declared), now_ms)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {describe_validation_error(exc)}") from None
    except GatewayError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None


async def create_declared(app: web.Application) -> None:
    """on_startup hook: validate every declaration first, then create the missing ones."""
    now = now_ms()
    tables = app[SETTINGS].integrations
    integrations = [declared_integration(i, table, now) for i, table in enumerate(tables)]
    ids = [integration.integration_id for integration in integrations]
    if len(set(ids)) != len(ids):
        raise ConfigError("[[integrations]]: two tables declare the same integration")
    store = IntegrationStore(app[ENGINE].registry, app[INTEGRATIONS])
    for integration in integrations:
        await store.create(integration)
