"""Every Redis key the engine uses, built from the key prefix (`GATEWAY_REDIS_KEY_PREFIX`).

Each key carries a hash tag (`{prefix:slot}`): a Lua script may only touch keys of one Redis
Cluster slot, so keys that one script changes together share a tag. The package docstring
explains which keys live together and why.
"""

from __future__ import annotations

SCHEMA_VERSION = "1"


class Keys:
    """Key names under one prefix. Per-item keys are methods; fixed keys are attributes."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        log = "{" + prefix + ":log}"
        self.schema = "{" + prefix + ":meta}:schema"
        # The log slot: events, their byte count, dedup, and presence with its change feed.
        self.events = f"{log}:events"
        self.log_meta = f"{log}:meta"
        self.dedup_index = f"{log}:dedup"
        self.dedup_bucket_prefix = f"{log}:dedup:"
        self.roster = f"{log}:roster"
        self.instances = f"{log}:instances"
        self.presence_prefix = f"{log}:presence:"
        # The registry slot.
        self._reg = "{" + prefix + ":reg}"
        self.registry_changes = f"{self._reg}:changes"
        # The delivery queue slot.
        self.dq = "{" + prefix + ":dq}"

    def records(self, kind: str) -> str:
        return f"{self._reg}:records:{kind}"

    def throttle(self, key: str) -> str:
        """Each bucket its own slot: a take touches one bucket only."""
        return "{" + self.prefix + ":throttle:" + key.replace("}", "%7D") + "}"
