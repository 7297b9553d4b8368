"""Baseline servers and the delivery sink, each run as `python -m bench.servers NAME`.

A baseline is the least an aiohttp server can do for the same traffic; the gateway's figure
divided by its baseline's (same machine, same run, same generator) is the number that means
something across machines.
"""
