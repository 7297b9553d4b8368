"""Activity events: the one shape every provider event becomes (docs/activity-events.md)."""
