"""The gateway describes itself: its OpenAPI document and the reference page rendering it."""
