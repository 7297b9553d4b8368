"""Fixtures shared by the signing tests: a fixed clock and a realistic 1 KB body."""

import json

import pytest

NOW = 1_700_000_000


@pytest.fixture
def now() -> int:
    return NOW


@pytest.fixture
def clock() -> object:
    return lambda: float(NOW)


@pytest.fixture(scope="session")
def body_1k() -> bytes:
    """A JSON object of exactly 1024 bytes."""
    envelope = json.dumps({"type": "message", "text": ""}).encode()
    return json.dumps({"type": "message", "text": "x" * (1024 - len(envelope))}).encode()
