"""Which adapter reads which integration kind."""

from __future__ import annotations

from gateway.inbound import hubster, scg
from gateway.inbound.base import Adapter

ADAPTERS: dict[str, Adapter] = {
    "hubster-system": hubster.ADAPTER,
    "hubster-direct": hubster.ADAPTER,
    "scg": scg.ADAPTER,
}
