"""An in-process gateway for the integrations admin API tests."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.config import Settings
from gateway.engine.memory import MemoryEngine
from gateway.http.app import build_app

ADMIN_KEY = "integrations-admin-key"


@pytest.fixture
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient:
    app = build_app(Settings(port=0), MemoryEngine(), admin_key=ADMIN_KEY, jwt_secret="jwt")
    return await aiohttp_client(app)
