"""Fixtures for the inbound tests: `gateway(**settings)` starts one in-process."""

from __future__ import annotations

from typing import Any

import pytest
from inbound_support import Gateway, GatewayFactory, make_app

from gateway.engine import Engine
from tests.conftest import NewEngine


@pytest.fixture
def make_gateway(aiohttp_client: Any, new_engine: NewEngine) -> GatewayFactory:
    async def start(engine: Engine | None = None, **settings: Any) -> Gateway:
        engine = engine or await new_engine()
        client = await aiohttp_client(make_app(engine, **settings))
        return Gateway(client, engine)

    return start


@pytest.fixture
async def gateway(make_gateway: GatewayFactory) -> Gateway:
    return await make_gateway()
