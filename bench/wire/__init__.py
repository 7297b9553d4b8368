"""Minimal HTTP/1.1 and websocket clients on asyncio protocols.

The load generators use these instead of aiohttp's client because on a 2-core machine the
generator shares the CPU with the server under test: every microsecond it spends per request
is one the server does not get. They do only what a benchmark needs (keep-alive requests
with a Content-Length answer; unfragmented, uncompressed websocket frames).
"""
