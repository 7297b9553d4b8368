"""Fixtures for the delivery tests (defined in `support`)."""

from tests.delivery.support import make_gateway, make_sink

__all__ = ["make_gateway", "make_sink"]
