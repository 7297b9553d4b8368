"""Inbound webhooks: verify a provider's request, normalise it into activities, store them
exactly once. Provider adapters are pure functions; `handler.py` and `feature.py` are the
I/O shell."""
