"""Serving a test's aiohttp app (a stand-in, a proxy) on a free loopback port."""

from __future__ import annotations

from typing import Any

from aiohttp import web


async def serve(app: web.Application, **runner: Any) -> tuple[web.AppRunner, str]:
    """Start `app` on 127.0.0.1 and an ephemeral port: (the runner, to clean up; the base URL)."""
    r = web.AppRunner(app, shutdown_timeout=1.0, **runner)
    await r.setup()
    await web.TCPSite(r, "127.0.0.1", 0).start()
    host, port = r.addresses[0][:2]
    return r, f"http://{host}:{port}"
