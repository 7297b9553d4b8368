"""Integrations: the inbound sources (Hubster, SCG, Standard Webhooks, Twilio) and their
credentials, kept in the engine's registry and managed through the admin API."""
