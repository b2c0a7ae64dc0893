"""`watchd console`: the subscriber, the history writer and the web server in one process.

Embeddable like the daemon: tests run `ConsoleServer(cfg).start()` / `.stop()` in-process. History is
flushed once a second (one transaction per second, however busy the bus) and rolled up hourly.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable

import structlog
from aiohttp import web

from watchd.bus.connection import read_secret_file
from watchd.console import history as history_mod
from watchd.console import web as console_web
from watchd.console.auth import Auth
from watchd.console.commands import CommandSender
from watchd.console.config import ConsoleConfig
from watchd.console.subscriber import Subscriber
from watchd.console.view import FleetView

log = structlog.get_logger("watchd.console")

FLUSH_EVERY = 1.0
ROLLUP_EVERY = 3600.0


class ConsoleServer:
    def __init__(self, cfg: ConsoleConfig, now: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.now = now
        self.db = history_mod.connect(cfg.database)
        self.view = FleetView()
        self.history = history_mod.History(self.db)
        secret = None
        if cfg.mqtt.command_secret_file:
            secret = read_secret_file(cfg.mqtt.command_secret_file).encode()
        self.sender = CommandSender(secret, cfg.mqtt.prefix, self._publish, now)
        self.subscriber = Subscriber(cfg, self.view, self.history, now, self.sender.answer)
        self.console = console_web.Console(cfg, self.view, self.history, self.sender, now)
        self.auth = Auth(cfg.auth, now=now, db=self.db, public_url=cfg.public_url)
        self.app = console_web.make_app(self.console, self.auth)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.port: int | None = None

    async def _publish(self, topic: str, payload: bytes) -> None:
        await self.subscriber.publish(topic, payload)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.cfg.listen_host, self.cfg.listen_port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.cfg.listen_port
        self._tasks = [
            asyncio.create_task(self.subscriber.run(), name="console-subscriber"),
            asyncio.create_task(self._flush_loop(), name="console-history"),
        ]
        log.info(
            "console started",
            listen=f"{self.cfg.listen_host}:{self.port}",
            broker=self.subscriber.connection.broker,
        )

    async def stop(self) -> None:
        self.subscriber.stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        self.history.flush()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.db.close()

    async def _flush_loop(self) -> None:
        last_rollup = 0.0
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            try:
                self.history.flush()
                now = self.now()
                if now - last_rollup >= ROLLUP_EVERY:
                    g = self.cfg.graphs
                    self.history.rollup(now, g.raw_days, g.days, self.cfg.history_days)
                    last_rollup = now
            except Exception:  # a full disk must not stop the live view
                log.exception("console: history write failed; will retry")

    async def run_until_signalled(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        await self.start()
        await stop.wait()
        await self.stop()
