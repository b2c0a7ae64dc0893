"""The daemon: wires the parts, owns the loop's lifetime, reloads on SIGHUP, drains on SIGTERM.

Embeddable: tests run `Daemon(config).start()` / `.reload()` / `.stop()` in-process, no signals.
"""

from __future__ import annotations

import asyncio
import datetime
import signal
from dataclasses import dataclass

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from watchd import __version__, state, suppression
from watchd import config as config_mod
from watchd.clock import Clock, SystemClock
from watchd.config import Config, ConfigError
from watchd.config.incidents import build_backend
from watchd.effects import contact_channels
from watchd.followup import FollowUp, FollowUpDeps
from watchd.incidents import CheckIncidentPolicy
from watchd.maintenance import Scope, Window, windows_between
from watchd.model import CheckResult, CheckStatus, State
from watchd.notify.channel import NotifyChannel, Transport, WebhookTransport, email_transport
from watchd.outbox import Deliverable, Deliverer
from watchd.pipeline import Batch, Event, Pipeline
from watchd.scheduler import Job, Scheduler, initial_offset
from watchd.stages.incidents import IncidentStage, Route, alert_result
from watchd.stages.kick import KickStage
from watchd.stages.log import LogStage
from watchd.stages.persist import PersistStage
from watchd.stages.state import StateStage
from watchd.state import StatePolicy
from watchd.store import Store
from watchd.suppression import Silence
from watchd.tickets.builtin import BuiltinBackend
from watchd.tickets.channel import TicketChannel

log = structlog.get_logger("watchd.daemon")


INTERNAL_PREFIX = "watchd."  # synthetic checks for watchd's own problems, e.g. watchd.delivery.rt


@dataclass(frozen=True, slots=True)
class Parts:
    """What build_pipeline() makes; the daemon keeps references for flushing and inspection."""

    pipeline: Pipeline
    state: StateStage
    incidents: IncidentStage
    deliverer: Deliverer


def build_pipeline(store: Store, daemon: Daemon) -> Parts:
    """The one place the result pipeline is assembled."""
    state_stage = StateStage(store.load_statuses(), daemon.policy_for)
    incident_stage = IncidentStage(
        store, daemon.incident_policy_for, daemon.route_for, daemon.suppression_for
    )
    deliverer = Deliverer(
        store,
        build_channels(daemon.config, store, daemon.clock),
        daemon.clock,
        base_backoff=daemon.config.tickets.base_backoff,
        max_backoff=daemon.config.tickets.max_backoff,
        alert_after=daemon.config.tickets.alert_after,
        on_alert=daemon.delivery_alert,
    )
    pipeline = Pipeline(
        [state_stage, incident_stage, PersistStage(store), KickStage(deliverer.kick), LogStage()]
    )
    return Parts(pipeline, state_stage, incident_stage, deliverer)


def build_channels(config: Config, store: Store, clock: Clock) -> dict[str, Deliverable]:
    """Every outbox channel the config defines: ticket backends and contacts' media."""
    channels: dict[str, Deliverable] = {"ticket:builtin": TicketChannel(BuiltinBackend(store))}
    for name, spec in config.tickets.backends.items():
        if name != "builtin":
            channels[f"ticket:{name}"] = TicketChannel(build_backend(spec.type, spec.params))
    n = config.notify
    for name, contact in config.contacts.items():
        transports: dict[str, Transport] = {}
        if contact.email:
            transports["email"] = email_transport(n.smtp, n.sender, contact.email, n.domain)
        if contact.webhook_url:
            transports["webhook"] = WebhookTransport(contact.webhook_url, contact.webhook_format)
        for medium, transport in transports.items():
            channels[f"notify:{name}:{medium}"] = NotifyChannel(
                contact, transport, store.db, n.ticket_wait, clock.time
            )
    return channels


async def _close_channels(channels: object) -> None:
    for ch in channels:  # type: ignore[attr-defined]
        try:
            await ch.close()
        except Exception:
            log.exception("closing a delivery channel failed")


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
        self._background: set[asyncio.Task[object]] = set()
        self.results = 0
        self._run_id = 0
        self.followup: FollowUp | None = None
        self.jobs: AsyncIOScheduler | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        self.store = Store(self.config.db_path)
        self._run_id = self.store.run_started(self.clock.time())
        self.parts = build_pipeline(self.store, self)
        await self._forget_removed()
        self.parts.deliverer.start()
        self.followup = FollowUp(
            FollowUpDeps(
                self.store, self.clock, lambda: self.config, self.parts.incidents, self.route_for,
                self.suppression_for, self.downtimes, self.parts.pipeline.exec,
            )
        )  # fmt: skip
        self.jobs = AsyncIOScheduler(timezone="UTC")
        self.jobs.add_job(
            self.followup.tick, "interval", seconds=self.config.scheduler.followup_interval,
            next_run_time=datetime.datetime.now(datetime.UTC), max_instances=1, coalesce=True, id="followup",
        )  # fmt: skip
        self.jobs.start()
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
        if self.jobs is not None:
            self.jobs.shutdown(wait=False)
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        self.flush()
        if self.store is not None:
            self.store.run_seen(self._run_id, self.clock.time(), stopped=True)
        if self.parts is not None:
            await self.parts.deliverer.stop()
            await _close_channels(self.parts.deliverer.channels.values())
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
        try:
            channels = build_channels(new, self.store, self.clock) if self.store is not None else {}
        except Exception as exc:  # a backend that validated but cannot be built
            log.error("reload rejected; old config keeps running", errors=[repr(exc)])
            return [repr(exc)]
        changed = [n for n, c in new.checks.items() if self.config.checks.get(n) != c]
        removed = set(self.config.checks) - set(new.checks)
        self.config = new
        self.scheduler.max_concurrent = new.scheduler.max_concurrent
        self.scheduler.update(jobs_for(new))
        if self.parts is not None:
            old = list(self.parts.deliverer.channels.values())
            self.parts.deliverer.channels = channels
            await _close_channels(old)
            await self._forget_removed()
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
        if cfg is not None:
            return cfg.policy
        return StatePolicy(max_attempts=1, flap_detection=False)  # internal alerts are hard at once

    def incident_policy_for(self, name: str) -> CheckIncidentPolicy | None:
        inc = self.config.incidents
        cfg = self.config.checks.get(name)
        if cfg is None:
            if not name.startswith(INTERNAL_PREFIX):
                return None
            return CheckIncidentPolicy(self.config.host, "medium", "high", 0.0, inc.priority)
        impact, urgency = cfg.impact, cfg.urgency
        for tag in cfg.tags:  # the first tag that says wins over the global default
            t = inc.tags.get(tag)
            if t is not None:
                impact = impact or t.impact
                urgency = urgency or t.urgency
        return CheckIncidentPolicy(
            self.config.host, impact or inc.impact, urgency or inc.urgency, inc.reopen_within, inc.priority
        )

    def route_for(self, name: str) -> Route:
        """Ticket backends and contact channels for a check's incidents."""
        c = self.config
        media = {n: ct.media for n, ct in c.contacts.items()}
        cfg = c.checks.get(name)
        if cfg is None:  # internal alerts: fallback tickets (never the failing one), on-call only
            failing = name.removeprefix(INTERNAL_PREFIX + "delivery.")
            oncall = [n for n in c.notify.default if c.contacts[n].kind == "oncall"]
            return Route(
                tuple(b for b in c.tickets.fallback if b != failing), tuple(contact_channels(oncall, media))
            )
        tickets = cfg.tickets if cfg.tickets is not None else c.tickets.default
        contacts = cfg.notify if cfg.notify is not None else c.notify.default
        return Route(tickets, tuple(contact_channels(contacts, media)), cfg.description)

    def suppression_for(self, name: str, now: float) -> str | None:
        """Why this check's problem must not reach people now (silence, maintenance, failing parent)."""
        assert self.store is not None
        cfg = self.config.checks.get(name)
        if cfg is None:
            return None
        silences = [
            Silence(r[0], r[1], r[2], r[3], r[4], r[5])
            for r in self.store.db.execute(
                "SELECT id, check_name, starts_at, ends_at, created_by, comment FROM silences"
                " WHERE check_name = ? AND removed_at IS NULL AND starts_at <= ? AND ends_at > ?",
                (name, now, now),
            )
        ]
        windows = windows_between(self.config.maintenance.windows, self.downtimes(now, now + 1), now, now + 1)
        statuses = self.parts.state.statuses if self.parts is not None else {}
        failing = [p for p in cfg.depends_on if p in statuses and statuses[p].state.is_problem]
        return suppression.reason(name, cfg.tags, now, silences, windows, failing)

    def downtimes(self, start: float, end: float) -> list[Window]:
        """One-off maintenance windows from the store overlapping [start, end)."""
        assert self.store is not None
        rows = self.store.db.execute(
            "SELECT id, scope, target, starts_at, ends_at, comment, announce FROM downtimes"
            " WHERE removed_at IS NULL AND ends_at > ? AND starts_at < ?",
            (start, end),
        )
        out = []
        for i, scope, target, s, e, comment, announce in rows:
            sc = (
                Scope(checks=(target,))
                if scope == "check"
                else Scope(tags=(target,))
                if scope == "tag"
                else Scope()
            )
            out.append(Window(f"downtime:{i}", s, e, sc, bool(announce), comment))
        return out

    def delivery_alert(self, channel: str, failing: bool, text: str) -> None:
        """The outbox says a channel keeps failing (or recovered): make it an incident of its own."""
        name = f"{INTERNAL_PREFIX}delivery.{channel.removeprefix('ticket:')}"
        result = alert_result(name, failing, f"ticket delivery {channel}: {text}", self.clock.time())
        task = asyncio.get_running_loop().create_task(self.submit(result))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- helpers ----------------------------------------------------------------------------------

    def flush(self) -> None:
        if self.parts is not None and self.store is not None:
            dirty = self.parts.state.take_dirty()
            if dirty:
                self.store.save(dirty)
            self.store.run_seen(self._run_id, self.clock.time())

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.scheduler.state_flush_interval)
            try:
                self.flush()
            except Exception:
                log.exception("state flush failed; will retry")

    async def _forget_removed(self) -> None:
        """Checks no longer configured: drop their status, and resolve their open incidents so that
        every ticket that was opened is also closed."""
        assert self.parts is not None
        assert self.store is not None
        gone = {
            n
            for n in self.parts.state.statuses
            if n not in self.config.checks and not n.startswith(INTERNAL_PREFIX)
        }
        if gone:
            self.parts.state.forget(gone)
            self.store.delete_statuses(gone)
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
