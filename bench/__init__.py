"""`python -m bench`: the gateway and its baselines measured in the same run.

A tool, not part of the product: it lives beside `gateway/` so that neither the wheel nor the
Docker image carries it. It drives `python -m gateway serve` as a separate process, over the
wire, and imports nothing of the gateway's internals (only the `signing` library, to sign the
webhooks it sends and to measure verification).
"""
