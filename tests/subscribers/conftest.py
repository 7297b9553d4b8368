"""Fixtures for the subscriber admin API tests (shared with the delivery tests)."""

from tests.delivery.support import make_gateway, make_sink

__all__ = ["make_gateway", "make_sink"]
