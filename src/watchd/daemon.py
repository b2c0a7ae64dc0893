"""The daemon: wires the parts, owns the loop's lifetime, reloads on SIGHUP, drains on SIGTERM.

Embeddable: tests run `Daemon(config).start()` / `.reload()` / `.stop()` in-process, no signals.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass

import structlog

from watchd import __version__, state
from watchd import config as config_mod
from watchd.clock import Clock, SystemClock
from watchd.config import Config, ConfigError
from watchd.model import CheckResult, CheckStatus, State
from watchd.pipeline import Batch, Event, Pipeline
from watchd.scheduler import Job, Scheduler, initial_offset
from watchd.stages.log import LogStage
from watchd.stages.persist import PersistStage
from watchd.stages.state import StateStage
from watchd.state import StatePolicy
from watchd.store import Store

log = structlog.get_logger("watchd.daemon")


@dataclass(frozen=True, slots=True)
class Parts:
    """What build_pipeline() makes; the daemon keeps references for flushing and inspection."""

    pipeline: Pipeline
    state: StateStage


def build_pipeline(store: Store, daemon: Daemon) -> Parts:
    """The one place the result pipeline is assembled."""
    state_stage = StateStage(store.load_statuses(), daemon.policy_for)
    return Parts(Pipeline([state_stage, PersistStage(store), LogStage()]), state_stage)


def jobs_for(config: Config) -> list[Job]:
    return [Job(c.name, c.interval, c.retry_interval) for c in config.checks.values() if c.enabled]


class Daemon:
    def __init__(self, config: Config, config_path: str | None = None, clock: Clock | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.clock = clock or SystemClock()
        self.store: Store | None = None
        self.parts: Parts | None = None
        self.scheduler = Scheduler(self.run_check, config.scheduler.max_concurrent)
        self._stopped = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self.results = 0

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        self.store = Store(self.config.db_path)
        self.parts = build_pipeline(self.store, self)
        self._forget_removed()
        loop = asyncio.get_running_loop()
        self.scheduler.start(jobs_for(self.config), self._resume_times(loop.time()))
        self._flusher = loop.create_task(self._flush_loop())
        log.info(
            "watchd started",
            version=__version__,
            host=self.config.host,
            checks=len(self.config.checks),
            db=self.config.db_path,
            files=list(self.config.files),
        )

    async def stop(self) -> None:
        """Stop scheduling, let running checks finish (bounded), flush what is pending, close."""
        log.info("stopping", running=self.scheduler.running)
        await self.scheduler.stop(self.config.scheduler.shutdown_grace)
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        self.flush()
        if self.store is not None:
            self.store.close()
        self._stopped.set()
        log.info("stopped")

    async def run_until_signalled(self) -> None:
        """Start, then serve until SIGTERM/SIGINT; SIGHUP reloads the config file."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload()))
        await self.start()
        await stop.wait()
        await self.stop()

    async def reload(self, new: Config | None = None) -> list[str]:
        """Apply a new config (read from config_path when not given). Everything is validated and
        built first; on any error the running config stays and the errors are returned and logged."""
        if new is None:
            if self.config_path is None:
                return ["no config file to reload from"]
            try:
                new = config_mod.load(self.config_path)
            except ConfigError as exc:
                errors = [str(p) for p in exc.problems]
                log.error("reload rejected; old config keeps running", errors=errors)
                return errors
        changed = [n for n, c in new.checks.items() if self.config.checks.get(n) != c]
        removed = set(self.config.checks) - set(new.checks)
        self.config = new
        self.scheduler.max_concurrent = new.scheduler.max_concurrent
        self.scheduler.update(jobs_for(new))
        self._forget_removed()
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
        """Feed one result from any source into the pipeline; returns the check's new status."""
        assert self.parts is not None
        self.results += 1
        batch = await self.parts.pipeline.exec(Batch([Event(result)], self.clock.time()))
        return batch.events[0].status if batch.events else None

    def policy_for(self, name: str) -> StatePolicy:
        cfg = self.config.checks.get(name)
        return cfg.policy if cfg is not None else StatePolicy()

    # -- helpers ----------------------------------------------------------------------------------

    def flush(self) -> None:
        if self.parts is not None and self.store is not None:
            dirty = self.parts.state.take_dirty()
            if dirty:
                self.store.save(dirty)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.scheduler.state_flush_interval)
            try:
                self.flush()
            except Exception:
                log.exception("state flush failed; will retry")

    def _forget_removed(self) -> None:
        assert self.parts is not None
        assert self.store is not None
        gone = set(self.parts.state.statuses) - set(self.config.checks)
        if gone:
            self.parts.state.forget(gone)
            self.store.delete_statuses(gone)

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
