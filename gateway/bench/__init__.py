"""`python -m gateway bench`: the gateway and its baselines measured in the same run."""
