"""Fixtures for the credential tests that go through the admin API (shared with delivery)."""

from tests.delivery.support import make_gateway, make_sink

__all__ = ["make_gateway", "make_sink"]
