"""Inbound webhooks: verify a provider's request, normalise it into activities, store them
exactly once. Provider adapters are pure functions; `handler.py` is the only I/O."""
