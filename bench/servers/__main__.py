"""`python -m bench.servers bare|broadcast|sink|verify [--port P] [--loop L]`: serve until
SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket

from aiohttp import web

from bench.loops import FASTEST, LOOPS, loop_factory, running_loop_name
from bench.servers import bare, broadcast, sink, verify

APPS = {
    "bare": bare.build,
    "broadcast": broadcast.build,
    "sink": sink.build,
    "verify": verify.build,
}


async def serve(name: str, host: str, port: int) -> None:
    runner = web.AppRunner(
        APPS[name](), handle_signals=False, access_log=None, shutdown_timeout=1.0
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    sockets: list[socket.socket] = list(getattr(server, "sockets", None) or [])
    bound = sockets[0].getsockname()[1] if sockets else port
    print(f"{name} listening on http://{host}:{bound} (loop: {running_loop_name()})", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers")
    parser.add_argument("name", choices=sorted(APPS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--loop", choices=LOOPS, default=FASTEST)
    args = parser.parse_args()
    with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
        runner.run(serve(args.name, args.host, args.port))


if __name__ == "__main__":
    main()
