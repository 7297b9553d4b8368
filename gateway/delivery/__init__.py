"""Delivery of stored events to subscribers: queueing, signing, sending, retrying."""
