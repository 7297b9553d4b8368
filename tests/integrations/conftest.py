"""An in-process gateway for the integrations admin API tests."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.config import Settings
from gateway.http.app import build_app
from tests.conftest import NewEngine

ADMIN_KEY = "integrations-admin-key"


@pytest.fixture
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
async def client(aiohttp_client: Any, new_engine: NewEngine) -> TestClient:
    engine = await new_engine()
    app = build_app(Settings(port=0), engine, admin_key=ADMIN_KEY, jwt_secret="jwt")
    return await aiohttp_client(app)
