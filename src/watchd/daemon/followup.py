"""FollowUp: what happens to incidents because time passes. Run by APScheduler every `tick` seconds
and once at start, so that a deadline that passed while the daemon was down is acted on (once).

    held-back incidents whose reason ended  -> opened now (tickets, notifications)
    respond_by / resolve_by passed          -> marked breached (for SLA reports), escalated per chain
    renotify_interval since the last notice -> on-call told again
    maintenance windows ahead               -> announced N business days before, reminded, cancelled

Every effect is written with a record of it having been done (escalations, announcements tables,
breach columns) in one transaction, so nothing fires twice across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import structlog

from watchd.config import Config
from watchd.control import actions
from watchd.core import escalation
from watchd.core.businesshours import BusinessCalendar
from watchd.core.clock import Clock
from watchd.core.maintenance import Window, announce_at, windows_between
from watchd.core.model import Incident
from watchd.delivery import effects, outbox
from watchd.pipeline import Batch
from watchd.pipeline.incidents import IncidentStage, Route
from watchd.store import Store
from watchd.store import incidents as incident_store

log = structlog.get_logger("watchd.followup")


@dataclass(frozen=True, slots=True)
class FollowUpDeps:
    store: Store
    clock: Clock
    config: Callable[[], Config]
    incidents: IncidentStage
    route_for: Callable[[str], Route]
    suppression_for: Callable[[str, float], str | None]
    downtimes: Callable[[float, float], list[Window]]
    run_batch: Callable[[Batch], Awaitable[object]]
    channels: Callable[[], Mapping[str, object]] = dict  # outbox channels (ticket backends may know acks)


class FollowUp:
    def __init__(self, deps: FollowUpDeps) -> None:
        self.d = deps
        self.ticks = 0
        self._lock = asyncio.Lock()  # passes never overlap: each decides from what the last one wrote

    async def tick(self) -> None:
        async with self._lock:
            await self._ticket_acks()
            now = self.d.clock.time()
            batch = Batch([], now)
            self._release(batch)
            self._deadlines(batch)
            self._announce(batch)
            self.ticks += 1
            if batch.writes:
                await self.d.run_batch(batch)

    # -- acknowledgements made in a ticket system ---------------------------------------------------

    async def _ticket_acks(self) -> None:
        """An engineer who takes the ticket in the ticket system (RT: sets an owner) acknowledges the
        incident as `watchd ack` would: escalation and renotification stop."""
        db = self.d.store.db
        channels = self.d.channels()
        for inc in _open(db):
            if inc.acked_at is not None or inc.suppressed_by is not None:
                continue
            for channel, ref in db.execute(
                "SELECT channel, ref FROM ticket_refs WHERE incident_id = ? ORDER BY channel", (inc.id,)
            ).fetchall():
                backend = getattr(channels.get(channel), "backend", None)
                asked = getattr(backend, "acknowledged", None)
                who = await asked(ref) if asked is not None else None
                if who is None:
                    continue
                # ActionError: acknowledged meanwhile by someone else, nothing to add
                with contextlib.suppress(actions.ActionError):
                    actions.ack(
                        self.d.store,
                        inc.id,
                        who,
                        f"taken in {channel.removeprefix('ticket:')}",
                        self.d.clock.time(),
                    )
                log.info("acknowledged in the ticket system", incident=inc.id, channel=channel, by=who)
                break

    # -- held-back incidents ----------------------------------------------------------------------

    def _release(self, batch: Batch) -> None:
        cfg = self.d.config()
        for inc in _open(self.d.store.db):
            if inc.suppressed_by is None:
                continue
            reason = self.d.suppression_for(inc.check, batch.now)
            if reason is None:
                why = f"problem persists after: {inc.suppressed_by}"
                self.d.incidents.activate(batch, inc, why, cfg.incidents.priority)
            elif reason != inc.suppressed_by:
                batch.writes.append(_set_suppressed(inc.id, reason))

    # -- SLA deadlines: breaches, escalation, renotification ------------------------------------------

    def _deadlines(self, batch: Batch) -> None:
        cfg = self.d.config()
        db = self.d.store.db
        media = {name: c.media for name, c in cfg.contacts.items()}
        for inc in _open(db):
            if inc.suppressed_by is not None:
                continue
            fired = {(r[0], r[1]) for r in db.execute(
                "SELECT deadline, level FROM escalations WHERE incident_id = ?", (inc.id,))}  # fmt: skip
            chain = cfg.notify.escalation.get(inc.priority, ())
            for esc in escalation.due(inc, batch.now, chain, fired):
                event = "escalate" if esc.deadline == "respond" else "resolution_breached"
                target = "response" if esc.deadline == "respond" else "resolution"
                why = f"{target} target missed; escalated to level {esc.level + 1}"
                rows = effects.notify_rows(
                    inc, event, why, None, batch.now, effects.contact_channels(esc.contacts, media),
                    self.d.route_for(inc.check).description,
                )  # fmt: skip
                rows += effects.follow_up_rows(db, inc, "update", why, None, batch.now, notify=False)
                batch.writes.append(_escalated(inc, esc, why, rows, batch.now))
                batch.effects += len(rows)
            breach = _breaches(db, inc, batch.now)
            if breach:
                batch.writes.append(breach)
            self._renotify(batch, inc, cfg.notify.renotify_interval, media)

    def _renotify(
        self, batch: Batch, inc: Incident, interval: float, media: dict[str, tuple[str, ...]]
    ) -> None:
        row = self.d.store.db.execute(
            "SELECT last_notified_at FROM incidents WHERE id = ?", (inc.id,)
        ).fetchone()
        if not escalation.renotify_due(inc, batch.now, interval, row[0] if row else None):
            return
        cfg = self.d.config()
        oncall = [c for c in self._contacts_of(inc.check) if cfg.contacts[c].kind == "oncall"]
        rows = effects.notify_rows(
            inc, "renotify", "still failing", None, batch.now, effects.contact_channels(oncall, media),
            self.d.route_for(inc.check).description,
        )  # fmt: skip

        def write(db: sqlite3.Connection) -> None:
            db.execute("UPDATE incidents SET last_notified_at = ? WHERE id = ?", (batch.now, inc.id))
            for r in rows:
                outbox.enqueue(db, inc.id, r.channel, r.kind, r.payload, batch.now)

        batch.writes.append(write)
        batch.effects += len(rows)

    def _contacts_of(self, check: str) -> list[str]:
        cfg = self.d.config()
        c = cfg.checks.get(check)
        names = c.notify if c is not None and c.notify is not None else cfg.notify.default
        return [n for n in names if n in cfg.contacts]

    # -- maintenance announcements ----------------------------------------------------------------

    def _announce(self, batch: Batch) -> None:
        cfg = self.d.config()
        m = cfg.maintenance
        now = batch.now
        calendar: BusinessCalendar = cfg.incidents.priority.calendars[m.calendar]
        windows = windows_between(m.windows, self.d.downtimes(now, now + m.horizon), now, now + m.horizon)
        db = self.d.store.db
        sent = {(r[0], r[1], r[2]) for r in db.execute(
            "SELECT window_key, starts_at, kind FROM announcements WHERE starts_at > ?", (now,))}  # fmt: skip
        customers = tuple(n for n, c in cfg.contacts.items() if c.kind == "customer")
        media = {name: c.media for name, c in cfg.contacts.items()}
        current = set()
        for w in windows:
            if not w.announce or w.starts_at <= now:
                continue
            current.add((w.key, w.starts_at))
            channels = effects.contact_channels(w.contacts if w.contacts is not None else customers, media)
            due = announce_at(w.starts_at, m.announce_business_days, calendar)
            if (w.key, w.starts_at, "announce") not in sent and now >= due:
                if now > due + 60:
                    log.warning("maintenance announced late", window=w.key, starts_at=w.starts_at, due=due)
                self._announcement(batch, w, "announce", channels)
            elif (
                m.reminder_before > 0
                and (w.key, w.starts_at, "announce") in sent
                and (w.key, w.starts_at, "reminder") not in sent
                and now >= w.starts_at - m.reminder_before
            ):
                self._announcement(batch, w, "reminder", channels)
        for key, starts_at, kind in sent:
            if (
                kind == "announce"
                and (key, starts_at) not in current
                and (key, starts_at, "cancel") not in sent
            ):
                ends = db.execute(
                    "SELECT ends_at FROM downtimes WHERE 'downtime:' || id = ?", (key,)
                ).fetchone()
                gone = Window(key, starts_at, ends[0] if ends else starts_at)
                self._announcement(batch, gone, "cancel", effects.contact_channels(customers, media))

    def _announcement(self, batch: Batch, w: Window, kind: str, channels: Sequence[str]) -> None:
        facts = {"window": w.key, "starts_at": w.starts_at, "ends_at": w.ends_at, "comment": w.comment}
        payload = {"incident_id": 0, "queued_at": batch.now, "facts": facts}
        event = f"maintenance_{kind}"

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO announcements (window_key, starts_at, kind, sent_at) VALUES (?,?,?,?)",
                (w.key, w.starts_at, kind, batch.now),
            )
            for channel in channels:
                outbox.enqueue(db, 0, channel, event, payload, batch.now)

        batch.writes.append(write)
        batch.effects += len(channels)
        log.info("maintenance " + kind, window=w.key, starts_at=w.starts_at, channels=list(channels))


def _open(db: sqlite3.Connection) -> list[Incident]:
    return list(incident_store.open_incidents(db).values())


def _set_suppressed(incident_id: int, reason: str) -> Callable[[sqlite3.Connection], None]:
    def write(db: sqlite3.Connection) -> None:
        db.execute("UPDATE incidents SET suppressed_by = ? WHERE id = ?", (reason, incident_id))

    return write


def _escalated(
    inc: Incident, esc: escalation.Escalation, why: str, rows: list[effects.OutRow], now: float
) -> Callable[[sqlite3.Connection], None]:
    def write(db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO escalations (incident_id, deadline, level, fired_at) VALUES (?,?,?,?)",
            (inc.id, esc.deadline, esc.level, now),
        )
        db.execute(
            "UPDATE incidents SET escalation_level = max(escalation_level, ?) WHERE id = ?",
            (esc.level + 1, inc.id),
        )
        incident_store.log_event(db, inc, "escalate", why)
        for r in rows:
            outbox.enqueue(db, inc.id, r.channel, r.kind, r.payload, now)

    return write


def _breaches(
    db: sqlite3.Connection, inc: Incident, now: float
) -> Callable[[sqlite3.Connection], None] | None:
    """Mark a missed response (no ack by respond_by) or resolution target once, for SLA reports."""
    row = db.execute(
        "SELECT response_breached_at, resolution_breached_at FROM incidents WHERE id = ?", (inc.id,)
    ).fetchone()
    response = (
        inc.respond_by is not None and inc.acked_at is None and now >= inc.respond_by and row[0] is None
    )
    resolution = inc.resolve_by is not None and now >= inc.resolve_by and row[1] is None
    if not (response or resolution):
        return None

    def write(db: sqlite3.Connection) -> None:
        if response:
            db.execute("UPDATE incidents SET response_breached_at = ? WHERE id = ?", (inc.respond_by, inc.id))
        if resolution:
            db.execute(
                "UPDATE incidents SET resolution_breached_at = ? WHERE id = ?", (inc.resolve_by, inc.id)
            )

    return write
