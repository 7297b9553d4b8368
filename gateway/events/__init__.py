"""Activity events: the one shape every provider event becomes (contract §4)."""
