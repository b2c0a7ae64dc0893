"""The daemon: wires the parts, owns the loop's lifetime, reloads on SIGHUP, drains on SIGTERM.

Embeddable: tests run `Daemon(config).start()` / `.reload()` / `.stop()` in-process, no signals.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import structlog

from watchd import __version__
from watchd import config as config_mod
from watchd.config import Config, ConfigError
from watchd.core import state
from watchd.core.clock import Clock
from watchd.core.model import CheckResult, CheckStatus, State
from watchd.daemon.channels import build_channels, close_channels
from watchd.daemon.commands import DaemonCommands
from watchd.daemon.followup import FollowUp, FollowUpDeps
from watchd.daemon.jobs import FollowUpJobs
from watchd.daemon.paging import Pager
from watchd.daemon.routing import INTERNAL_PREFIX, Routing, is_unconfigured_check
from watchd.daemon.scheduler import Job, Scheduler, initial_offset
from watchd.delivery.outbox import Deliverer, backlog
from watchd.pipeline import Batch, Event
from watchd.pipeline.build import Parts, build_pipeline
from watchd.pipeline.incidents import alert_result
from watchd.runtime.clock import SystemClock
from watchd.runtime.sdnotify import Notifier, WatchdogGate, watchdog_loop
from watchd.store import Store

if TYPE_CHECKING:
    from watchd.api.server import ApiServer
    from watchd.bus import Bus
    from watchd.delivery.icinga2.forwarder import Icinga2Forwarder

log = structlog.get_logger("watchd.daemon")


def jobs_for(config: Config) -> list[Job]:
    return [Job(c.name, c.interval, c.retry_interval) for c in config.checks.values() if c.enabled]


class Daemon:
    def __init__(self, config: Config, config_path: str | None = None, clock: Clock | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.clock = clock or SystemClock()
        self.store: Store | None = None
        self.parts: Parts | None = None
        self.routing = Routing(lambda: self.config, self._require_store, self._statuses)
        self.pager = Pager(
            lambda: self.config, lambda check: self.routing.route(check).description, self.routing.channels
        )
        self.scheduler = Scheduler(
            self.run_check, config.scheduler.max_concurrent, config.scheduler.granularity
        )
        self.bus: Bus | None = None
        self.icinga2: Icinga2Forwarder | None = None
        self.api: ApiServer | None = None
        self.followup: FollowUp | None = None
        self.jobs: FollowUpJobs | None = None
        self.notifier = Notifier.from_env()
        self.results = 0
        self.run_id = 0
        self.started_at = 0.0
        self._flusher: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[object]] = set()

    @property
    def last_results(self) -> dict[str, CheckResult]:
        return self.parts.last_results.results if self.parts is not None else {}

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        self.started_at = self.clock.time()
        self.store = Store(self.config.db_path)
        self.run_id = self.store.run_started(self.started_at)
        self.bus = self._make_bus(self.config)
        tickets = self.config.tickets
        deliverer = Deliverer(
            self.store, build_channels(self.config, self.store, self.clock, lambda: self.bus), self.clock,
            base_backoff=tickets.base_backoff, max_backoff=tickets.max_backoff,
            alert_after=tickets.alert_after, on_alert=self.delivery_alert,
            on_settled=lambda incident_id: self.refresh_bus(),
        )  # fmt: skip
        self.parts = build_pipeline(
            self.store, self.routing, deliverer, lambda: None if self.bus is None else self.bus.publisher,
            lambda: () if self.icinga2 is None else (self.icinga2,), self.pager.start,
        )  # fmt: skip
        await self._forget_removed()
        self.parts.deliverer.start()
        self.followup = FollowUp(
            FollowUpDeps(
                self.store, self.clock, lambda: self.config, self.parts.incidents, self.routing.route,
                self.routing.suppression, self.routing.downtimes, self.parts.pipeline.exec,
                lambda: self.parts.deliverer.channels if self.parts else {}, self.pager,
                self.routing.channels,
            )
        )  # fmt: skip
        self.jobs = FollowUpJobs(self.followup.tick, lambda: self.config, self.clock)
        self.jobs.start()
        loop = asyncio.get_running_loop()
        self.scheduler.start(jobs_for(self.config), self._resume_times(loop.time()))
        self._flusher = loop.create_task(self._flush_loop())
        if self.bus is not None:
            await self.bus.start()
        try:
            self.icinga2 = self._make_icinga2(self.config)
        except Exception as exc:  # e.g. a certificate that cannot be loaded: monitoring goes on
            log.error("icinga2 forwarding not started", error=repr(exc))
        if self.icinga2 is not None:
            await self.icinga2.start()
        await self._start_api()
        self._start_watchdog()
        self.notifier.ready(self.status_line())
        log.info(
            "watchd started", version=__version__, host=self.config.host, checks=len(self.config.checks),
            db=self.config.db_path, files=list(self.config.files),
        )  # fmt: skip

    async def stop(self) -> None:
        """Stop scheduling, let running checks finish (bounded), flush and tell the world, close."""
        self.notifier.stopping("stopping: letting running checks finish")
        log.info("stopping", running=self.scheduler.running)
        await self.scheduler.stop(self.config.scheduler.shutdown_grace)
        if self.jobs is not None:
            await self.jobs.stop()
        for task in (self._flusher, self._watchdog):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self.flush()
        if self.api is not None:
            await self.api.stop()
        if self.bus is not None:
            await self.bus.stop()
        if self.icinga2 is not None:
            await self.icinga2.stop()
        if self.parts is not None:
            await self.parts.deliverer.stop()
            await close_channels(self.parts.deliverer.channels.values())
        if "watchd.sources.probes.session" in sys.modules:  # only if an HTTP probe ever ran
            await sys.modules["watchd.sources.probes.session"].close_shared_sessions()
        if self.store is not None:
            self.store.run_seen(self.run_id, self.clock.time(), stopped=True)
            self.store.close()
        log.info("stopped")

    async def run_until_signalled(self) -> None:
        """Start, then serve until SIGTERM/SIGINT; SIGHUP reloads the config file."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self.reload()))
        await self.start()
        await stop.wait()
        await self.stop()

    async def reload(self, new: Config | None = None) -> list[str]:
        """Apply a new config (read from config_path when not given). Everything is validated and
        built first; on any error the running config stays and the errors are returned and logged."""
        self.notifier.reloading()
        try:
            return await self._reload(new)
        finally:
            self.notifier.ready(self.status_line())

    async def _reload(self, new: Config | None) -> list[str]:
        if new is None:
            if self.config_path is None:
                return ["no config file to reload from"]
            try:
                new = config_mod.load(self.config_path)
            except ConfigError as exc:
                errors = [str(p) for p in exc.problems]
                log.error("reload rejected; old config keeps running", errors=errors)
                return errors
        try:
            channels = build_channels(new, self._require_store(), self.clock, lambda: self.bus)
            bus = self._make_bus(new) if new.mqtt != self.config.mqtt else self.bus
            icinga2 = self._make_icinga2(new) if new.icinga2 != self.config.icinga2 else self.icinga2
        except Exception as exc:  # a backend or credential that validated but cannot be built
            log.error("reload rejected; old config keeps running", errors=[repr(exc)])
            return [repr(exc)]
        changed = [n for n, c in new.checks.items() if self.config.checks.get(n) != c]
        removed = set(self.config.checks) - set(new.checks)
        self.config = new
        self.scheduler.max_concurrent = new.scheduler.max_concurrent
        self.scheduler.granularity = new.scheduler.granularity
        self.scheduler.update(jobs_for(new))
        if bus is not self.bus:
            old, self.bus = self.bus, bus
            if old is not None:
                await old.stop()
            if bus is not None:
                await bus.start()
        if icinga2 is not self.icinga2:
            old_forwarder, self.icinga2 = self.icinga2, icinga2
            if old_forwarder is not None:
                await old_forwarder.stop()  # sends what it has queued, for stop_grace at most
            if icinga2 is not None:
                await icinga2.start()
        if self.api is not None:
            self.api.reconfigure(new.api)
        if self.parts is not None:
            old_channels = list(self.parts.deliverer.channels.values())
            self.parts.deliverer.channels = channels
            await close_channels(old_channels)
            await self._forget_removed()
        self.refresh_bus()  # recurring maintenance windows may have changed
        log.info("config reloaded", checks=len(new.checks), changed=changed, removed=sorted(removed))
        return []

    # -- the hot path -----------------------------------------------------------------------------

    async def run_check(self, name: str) -> bool:
        """Run one check through the pipeline; True while it should retry at the retry interval."""
        cfg = self.config.checks.get(name)
        if cfg is None or cfg.source is None:
            return False
        try:
            result = await cfg.source.run(cfg.timeout)
        except Exception as exc:  # a source must not raise; if one does, it is still a result
            log.exception("check source raised", check=name)
            result = CheckResult(name, State.UNKNOWN, f"(internal error: {exc!r})", reason="source raised")
        status = await self.submit(result)
        return status is not None and state.uses_retry_interval(status)

    async def submit(self, result: CheckResult) -> CheckStatus | None:
        """Feed one result from any source (scheduler, fleet watch) into the pipeline."""
        assert self.parts is not None
        self.results += 1
        batch = await self.parts.pipeline.exec(Batch([Event(result)], self.clock.time()))
        return batch.events[0].status if batch.events else None

    def kick(self) -> None:
        """Something outside the pipeline changed an incident and queued deliveries (an ack through
        the API or MQTT): deliver now, and refresh the bus's snapshots."""
        if self.parts is not None:
            self.parts.deliverer.kick()
        self.refresh_bus()

    def refresh_bus(self) -> None:
        """Incidents, deliveries or maintenance changed outside the pipeline (an action, a delivery,
        a downtime, a reload): the bus's retained snapshots follow soon (bus.mirror, coalesced)."""
        mirror = self.bus.mirror if self.bus is not None else None
        if mirror is not None:
            mirror.kick()

    def delivery_alert(self, channel: str, failing: bool, text: str) -> None:
        """The outbox says a channel keeps failing (or recovered): make it an incident of its own."""
        name = f"{INTERNAL_PREFIX}delivery.{channel.removeprefix('ticket:').replace(':', '.')}"
        self._spawn(
            self.submit(alert_result(name, failing, f"delivery {channel}: {text}", self.clock.time()))
        )

    def status_line(self) -> str:
        """One line for systemd's STATUS= and logs."""
        statuses = self._statuses().values()
        problems = sum(1 for s in statuses if s.is_hard_problem)
        pending = sum(backlog(self.store.db).values()) if self.store is not None else 0
        return f"{len(self.config.checks)} checks, {problems} problems, outbox backlog {pending}"

    # -- helpers ----------------------------------------------------------------------------------

    def flush(self) -> None:
        if self.parts is not None and self.store is not None:
            dirty = self.parts.state.take_dirty()
            if dirty:
                self.store.save(dirty)
            self.store.run_seen(self.run_id, self.clock.time())

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.scheduler.state_flush_interval)
            try:
                self.flush()
            except Exception:
                log.exception("state flush failed; will retry")

    def _make_bus(self, config: Config) -> Bus | None:
        if config.mqtt is None:
            return None
        from watchd.bus import Bus  # aiomqtt and paho are only loaded with an mqtt section
        from watchd.daemon.snapshots import StoreSnapshots

        return Bus(
            config.mqtt,
            config.host,
            __version__,
            self.clock,
            self.submit,
            DaemonCommands(self._require_store, self.clock, self.scheduler.run_now, self.kick),
            random.Random(),
            snapshots=StoreSnapshots(self._require_store, lambda: self.config, self.routing.downtimes),
        )

    def _make_icinga2(self, config: Config) -> Icinga2Forwarder | None:
        if config.icinga2 is None:
            return None
        from watchd.delivery.icinga2.forwarder import Icinga2Forwarder  # aiohttp only when used

        return Icinga2Forwarder(config.icinga2, config.host, random.Random())

    async def _start_api(self) -> None:
        if not self.config.api.enabled:
            return
        from watchd.api.server import ApiServer  # aiohttp's server side is only imported when used

        api = ApiServer(self, self.config.api)
        try:
            await api.start()
        except OSError as exc:  # the port is taken: monitoring goes on without the API
            log.error("HTTP API not started", error=str(exc))
            return
        self.api = api

    def _start_watchdog(self) -> None:
        interval = self.notifier.watchdog_interval()
        if interval is None:
            return
        loop = asyncio.get_running_loop()
        longest = max((c.interval for c in self.config.checks.values()), default=60.0)
        gate = WatchdogGate(
            loop.time(), max_lag=interval / 2, max_stall=interval, max_scheduler_idle=longest * 2 + 60
        )
        self._watchdog = loop.create_task(
            watchdog_loop(
                self.notifier, gate, interval / 2, loop.time, lambda: self.scheduler.stats.last_tick
            )
        )

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _require_store(self) -> Store:
        assert self.store is not None
        return self.store

    def _statuses(self) -> dict[str, CheckStatus]:
        return self.parts.state.statuses if self.parts is not None else {}

    async def _forget_removed(self) -> None:
        """Checks no longer configured: drop their status, and resolve their open incidents so that
        every ticket that was opened is also closed."""
        assert self.parts is not None
        assert self.store is not None
        gone = {
            n
            for n in self.parts.state.statuses
            if n not in self.config.checks and not is_unconfigured_check(n)
        }
        if not gone:
            return
        self.parts.state.forget(gone)
        self.parts.last_results.forget(gone)
        self.store.delete_statuses(gone)
        if self.bus is not None:
            self.bus.forget_checks(gone)
        batch = Batch([], self.clock.time())
        self.parts.incidents.resolve_removed(batch, gone, "check removed from configuration")
        await self.parts.pipeline.exec(batch)

    def _resume_times(self, loop_now: float) -> dict[str, float]:
        """After a restart, a check runs when it would have run anyway (not all at once, not late)."""
        assert self.parts is not None
        wall_now = self.clock.time()
        due: dict[str, float] = {}
        for name, status in self.parts.state.statuses.items():
            cfg = self.config.checks.get(name)
            if cfg is None or status.last_check <= 0:
                continue
            interval = cfg.retry_interval if state.uses_retry_interval(status) else cfg.interval
            remaining = status.last_check + interval - wall_now
            # Overdue after downtime: spread the catch-up instead of running everything at once.
            due[name] = loop_now + (remaining if remaining > 0 else initial_offset(name, interval))
        return due


__all__ = ["Daemon"]
