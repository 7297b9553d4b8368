"""Webhook and websocket event gateway.

Providers post signed webhooks; the gateway verifies them on their raw bytes, normalises them
into one activity-event shape, stores each provider event exactly once, and fans it out to
agent websockets and subscriber webhooks.
"""

__version__ = "0.1.0"
