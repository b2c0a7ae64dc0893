"""HTTP probe throughput against a local aiohttp server running in another process.

    python bench/probe_throughput.py --levels 1,8,32,128 --seconds 5

For each concurrency level, that many workers run http probes back to back for `--seconds`; prints
probes/s and the p50/p99 of the probe's own duration. Every probe makes a fresh connection (the
probes do not keep connections alive, on purpose), so this measures connect + request + response.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

from aiohttp import web

from watchd.core.model import State
from watchd.sources import BuildContext
from watchd.sources.probes.http import build_http
from watchd.sources.probes.session import close_shared_sessions

BODY = "ok " * 100  # ~300 B, a typical health endpoint


def serve() -> None:
    """The server process: prints its port, serves until stdin closes."""

    async def health(request: web.Request) -> web.Response:
        return web.Response(text=BODY)

    async def run() -> None:
        app = web.Application()
        app.router.add_get("/health", health)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()

    asyncio.run(run())


def percentile(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


async def level(url: str, concurrency: int, seconds: float, quiet: bool = False) -> None:
    probe = build_http(
        "bench", {"url": url, "body_contains": "ok"}, BuildContext(host="bench", config_dir=".")
    )
    durations: list[float] = []
    failures = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal failures
        while time.monotonic() < stop:
            r = await probe.run(10.0)
            durations.append(r.duration_s)
            failures += r.state is not State.OK

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.monotonic() - t0
    ms = [d * 1000 for d in durations]
    if quiet:
        return
    print(
        f"concurrency {concurrency:4d}: {len(durations) / wall:8.1f} probes/s  "
        f"p50 {percentile(ms, 50):7.2f} ms  p99 {percentile(ms, 99):7.2f} ms  "
        f"({len(durations)} probes, {failures} not OK)"
    )


async def bench(url: str, levels: list[int], seconds: float) -> None:
    await level(url, 1, 1.0, quiet=True)  # warm-up: first session, caches
    for n in levels:
        await level(url, n, seconds)
    await close_shared_sessions()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", default="1,8,32,128")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        print(
            f"server: aiohttp in pid {server.pid} on 127.0.0.1:{port}; client: this process (one event loop)"
        )
        asyncio.run(
            bench(f"http://127.0.0.1:{port}/health", [int(x) for x in args.levels.split(",")], args.seconds)
        )
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(10)


if __name__ == "__main__":
    main()
