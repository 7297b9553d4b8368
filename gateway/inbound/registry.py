"""Which adapter reads which integration kind."""

from __future__ import annotations

from gateway.inbound import hubster, scg, standard, telnyx, twilio
from gateway.inbound.base import Adapter

ADAPTERS: dict[str, Adapter] = {
    "hubster-system": hubster.ADAPTER,
    "hubster-direct": hubster.ADAPTER,
    "scg": scg.ADAPTER,
    "standard": standard.ADAPTER,
    "telnyx": telnyx.ADAPTER,
    "twilio": twilio.ADAPTER,
}
