"""The HTTP server: runs the API's aiohttp application on its address and/or unix socket.

    server = ApiServer(daemon, ApiConfig(port=0))
    await server.start()      # server.port is the bound port
    ...
    await server.stop()

Handlers read the daemon's live objects (config, statuses, scheduler, deliverer) and its store
through `app.Api`, on the event loop thread. Writes go through `watchd.control.actions`, the same
functions the CLI uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from typing import Any

import structlog
from aiohttp import web

from watchd.api import (
    checks,
    health,
    incidents,
    maintenance,
    metrics,
    openapi,
    paging,
    services,
    statuspage,
    tickets,
)
from watchd.api.app import API, TURN, Api, error_middleware, one_at_a_time
from watchd.config.api import ApiConfig
from watchd.core.clock import Clock
from watchd.reports.availability import WindowSource

log = structlog.get_logger("watchd.api")

MAX_BODY = 64 * 1024
ROUTES = (health, checks, incidents, maintenance, services, metrics, statuspage, tickets, paging, openapi)


class ApiServer:
    __slots__ = ("_runner", "api", "app", "port")  # a typo'd attribute is an error, not a no-op

    def __init__(
        self,
        daemon: Any,
        config: ApiConfig,
        clock: Clock | None = None,
        windows: WindowSource | None = None,
    ) -> None:
        """`daemon` is a watchd.daemon.Daemon (typed loosely so tests can pass a stand-in); see
        `app.Api` for `clock` and `windows`."""
        self.api = Api(daemon, config, clock, windows)
        self.app = build_app(self.api)
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def config(self) -> ApiConfig:
        return self.api.config

    def reconfigure(self, config: ApiConfig) -> None:
        self.api.reconfigure(config)

    async def start(self) -> None:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        cfg = self.config
        try:
            if cfg.listen:
                site = web.TCPSite(runner, cfg.listen, cfg.port, reuse_address=True)
                await site.start()
                self.port = _bound_port(runner)
            if cfg.unix_socket:
                _remove_stale_socket(cfg.unix_socket)
                await web.UnixSite(runner, cfg.unix_socket).start()
                os.chmod(cfg.unix_socket, 0o660)
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info(
            "api listening",
            address=cfg.listen or None,
            port=self.port or None,
            unix_socket=cfg.unix_socket,
            writes="enabled" if cfg.writes_configured else "disabled (no token)",
            status_page=cfg.status_page,
        )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.config.unix_socket:
            with contextlib.suppress(OSError):
                os.unlink(self.config.unix_socket)


def build_app(api: Api) -> web.Application:
    app = web.Application(middlewares=[error_middleware, one_at_a_time], client_max_size=MAX_BODY)
    app[API] = api
    app[TURN] = asyncio.Lock()
    app[metrics.COLLECTOR] = metrics.DaemonCollector(api)
    for module in ROUTES:
        app.add_routes(module.routes)
    app[openapi.DOC] = openapi.document(app)
    return app


def _bound_port(runner: web.AppRunner) -> int:
    for addr in runner.addresses:
        if isinstance(addr, tuple) and len(addr) >= 2:
            return int(addr[1])
    return 0


def _remove_stale_socket(path: str) -> None:
    """A socket left by a killed daemon would make bind fail; anything else is left alone."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISSOCK(st.st_mode):
        os.unlink(path)
