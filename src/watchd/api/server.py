"""The HTTP server: health, read and write API, Prometheus metrics, status page, OpenAPI document.

    api = Api(daemon, ApiConfig(port=0))
    await api.start()      # api.port is the bound port
    ...
    await api.stop()

Handlers read the daemon's live objects (config, statuses, scheduler, deliverer) and its store, on
the event loop thread; nothing here keeps state of its own besides the app. Writes go through
`watchd.actions`, the same functions the CLI uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from typing import Any

import structlog
from aiohttp import web

from watchd.api import metrics, openapi, routes_read, routes_write, statuspage
from watchd.api.availability import WindowSource, recurring_windows
from watchd.api.common import API, TURN, error_middleware, one_at_a_time
from watchd.config.api import ApiConfig
from watchd.core.clock import Clock

log = structlog.get_logger("watchd.api")

MAX_BODY = 64 * 1024


class Api:
    def __init__(
        self,
        daemon: Any,
        config: ApiConfig,
        clock: Clock | None = None,
        windows: WindowSource | None = None,
    ) -> None:
        """`daemon` is a watchd.daemon.Daemon (typed loosely so tests can pass a stand-in);
        `windows(start, end)` gives recurring maintenance windows for SLA figures and the status
        page (default: the daemon config's `maintenance.windows`, read at each use)."""
        self.daemon = daemon
        self.config = config
        self.clock: Clock = clock or daemon.clock
        self.windows = windows or recurring_windows(lambda: self.daemon.config)
        self.port = 0
        self.fragments: dict[str, tuple[tuple[object, ...], str]] = {}  # /api/v1/checks, per check
        self.status_cache: tuple[float, str] | None = None  # (rendered at, HTML) of /status
        self.app = build_app(self)
        self._runner: web.AppRunner | None = None

    def now(self) -> float:
        return self.clock.time()

    async def start(self) -> None:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            if self.config.listen:
                site = web.TCPSite(runner, self.config.listen, self.config.port, reuse_address=True)
                await site.start()
                self.port = _bound_port(runner)
            if self.config.unix_socket:
                path = self.config.unix_socket
                _remove_stale_socket(path)
                await web.UnixSite(runner, path).start()
                os.chmod(path, 0o660)
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info(
            "api listening",
            address=self.config.listen or None,
            port=self.port or None,
            unix_socket=self.config.unix_socket,
            writes="enabled" if self.config.writes_configured else "disabled (no token)",
            status_page=self.config.status_page,
        )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.config.unix_socket:
            with contextlib.suppress(OSError):
                os.unlink(self.config.unix_socket)

    def reconfigure(self, config: ApiConfig) -> None:
        """A reload: token, status page and services apply at once; listen address and port only
        after a restart."""
        self.config = config
        self.status_cache = None


def build_app(api: Api) -> web.Application:
    app = web.Application(middlewares=[error_middleware, one_at_a_time], client_max_size=MAX_BODY)
    app[API] = api
    app[TURN] = asyncio.Lock()
    app[metrics.COLLECTOR] = metrics.DaemonCollector(api)
    app.add_routes(routes_read.routes)
    app.add_routes(routes_write.routes)
    app.add_routes(metrics.routes)
    app.add_routes(statuspage.routes)
    app.add_routes(openapi.routes)
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
