"""FollowUp: what happens to incidents because time passes. Run by daemon/jobs.py every interval
and once at start, so that a deadline that passed while the daemon was down is acted on (once).

    changes people made in ticket systems   -> acks, notes, manual resolves (two-way, polled or pushed)
    held-back incidents whose reason ended  -> opened now (tickets, notifications)
    respond_by / resolve_by passed          -> marked breached (for SLA reports), escalated per chain
    renotify_interval since the last notice -> on-call told again
    maintenance windows ahead               -> announced N business days before, reminded, cancelled

Every effect is written with a record of it having been done (escalations, announcements tables,
breach columns) in one transaction, so nothing fires twice across restarts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import structlog

from watchd.config import Config
from watchd.control import actions
from watchd.core import escalation
from watchd.core.businesshours import BusinessCalendar
from watchd.core.clock import Clock
from watchd.core.errors import DeliveryError
from watchd.core.maintenance import Window, announce_at, windows_between
from watchd.core.model import Incident
from watchd.daemon.paging import Pager
from watchd.delivery import effects, outbox
from watchd.delivery.tickets import Polled, TicketChange, TwoWay
from watchd.pipeline import Batch
from watchd.pipeline.incidents import IncidentStage, Route
from watchd.store import Store, ticketsync
from watchd.store import incidents as incident_store
from watchd.store import paging as paging_store

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
    channels: Callable[[], Mapping[str, object]] = dict  # outbox channels (ticket backends read back)
    pager: Pager | None = None  # on-call paging levels (oncall.escalation)
    # (contacts, priority, now) -> their channels, quiet hours and digests applied (daemon.routing)
    audience: Callable[[Iterable[str], str, float], list[str]] | None = None


class FollowUp:
    def __init__(self, deps: FollowUpDeps) -> None:
        self.d = deps
        self.ticks = 0
        self._lock = asyncio.Lock()  # passes never overlap: each decides from what the last one wrote
        self._polled: dict[str, float] = {}  # channel -> when its tickets were last read back

    async def tick(self) -> None:
        async with self._lock:
            await self._poll_tickets()
            self.apply_ticket_changes()
            now = self.d.clock.time()
            batch = Batch([], now)
            self._release(batch)
            self._deadlines(batch)
            self._announce(batch)
            self._digests(batch)
            self.ticks += 1
            if batch.writes:
                await self.d.run_batch(batch)

    # -- what people did in the ticket systems (two-way) --------------------------------------------

    async def _poll_tickets(self) -> None:
        """Ask every backend that can be read back (`changes`) what happened to the tickets of open
        incidents since its stored cursor, at most every `two_way.poll` seconds per backend. A
        poll's new changes and the moved cursor are one transaction, so a crash neither loses nor
        repeats a change; the unique key (channel, ref, change id) keeps a repeat out regardless."""
        db = self.d.store.db
        channels = self.d.channels()
        now = self.d.clock.time()
        due: dict[str, Polled] = {}
        for channel, ch in channels.items():
            backend = getattr(ch, "backend", None)
            if not isinstance(backend, Polled) or backend.two_way.poll <= 0:
                continue
            if now - self._polled.get(channel, float("-inf")) >= backend.two_way.poll:
                due[channel] = backend
        if not due:
            return
        refs = db.execute(
            "SELECT r.channel, r.ref, r.incident_id FROM ticket_refs r"
            " JOIN incidents i ON i.id = r.incident_id WHERE i.status = 'open'"
            " ORDER BY r.incident_id, r.channel"
        ).fetchall()
        for channel in due:
            self._polled[channel] = now
        for channel, ref, incident_id in refs:
            backend = due.get(channel)
            if backend is None:
                continue
            since = ticketsync.cursor(db, channel, ref)
            try:
                changes = await backend.changes(ref, since)
            except DeliveryError as exc:  # the ticket system is away: the next pass asks again
                log.warning("reading a ticket back failed", channel=channel, ref=ref, error=exc.reason)
                continue
            self.record_changes(channel, ref, incident_id, changes)

    def record_changes(self, channel: str, ref: str, incident_id: int, changes: list[TicketChange]) -> int:
        """Keep new changes (the webhook route and polling both come here) and move the ticket's
        cursor, in one transaction; returns how many were new."""
        now = self.d.clock.time()
        new = 0
        with self.d.store.transaction() as db:
            for c in changes:
                new += ticketsync.record(
                    db, channel, ref, incident_id, c.id, c.kind, c.who, c.text, c.at, now
                )
            cursors = [c.cursor for c in changes if c.cursor]
            if cursors:
                ticketsync.set_cursor(db, channel, ref, cursors[-1], now)
        return new

    def apply_ticket_changes(self) -> int:
        """Turn recorded changes into incident actions, each once: taken -> acknowledged (unless
        `two_way.ack` is off), closed -> a note and, with `two_way.resolve`, a manual resolve,
        reply -> a note on the timeline. An action is guarded by the incident's state (a second ack
        or resolve is refused), and the change is marked applied with its note in one transaction."""
        db = self.d.store.db
        channels = self.d.channels()
        applied = 0
        for c in ticketsync.pending(db):
            inc = incident_store.get(db, c.incident_id)
            backend = getattr(channels.get(c.channel), "backend", None)
            two_way: TwoWay = getattr(backend, "two_way", None) or TwoWay()
            where = f"{c.channel.removeprefix('ticket:')} ticket {c.ref}"
            note: tuple[str, str] | None = _note(c, where)
            now = self.d.clock.time()
            if inc is not None and inc.is_open and inc.suppressed_by is None:
                try:
                    if c.kind == "taken" and two_way.ack and inc.acked_at is None:
                        actions.ack(self.d.store, inc.id, c.who, f"taken in {where}", now)
                        note = None  # the ack is the timeline entry
                    elif c.kind == "closed" and two_way.resolve:
                        actions.resolve(self.d.store, inc.id, c.who, f"{where} closed" + _quote(c.text), now)
                        note = None
                except actions.ActionError:
                    pass  # acknowledged or resolved meanwhile: the note says what happened
            with self.d.store.transaction() as tx:
                if ticketsync.mark_applied(tx, c, now):
                    applied += 1
                    if note is not None and inc is not None:
                        incident_store.log_event(
                            tx, dataclasses.replace(inc, updated_at=c.at), note[0], note[1]
                        )
            log.info(
                "ticket change", channel=c.channel, ref=c.ref, kind=c.kind, by=c.who, incident=c.incident_id
            )
        return applied

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
                people = self._people(esc.contacts, inc.priority, batch.now, media)
                rows = effects.notify_rows(
                    inc, event, why, None, batch.now, people, self.d.route_for(inc.check).description
                )
                rows += effects.follow_up_rows(db, inc, "update", why, None, batch.now, notify=False)
                batch.writes.append(_escalated(inc, esc, why, rows, batch.now))
                batch.effects += len(rows)
            if self.d.pager is not None:
                self.d.pager.follow(db, batch, inc)
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
        people = self._people(oncall, inc.priority, batch.now, media)
        rows = effects.notify_rows(
            inc, "renotify", "still failing", None, batch.now, people, self.d.route_for(inc.check).description
        )

        def write(db: sqlite3.Connection) -> None:
            db.execute("UPDATE incidents SET last_notified_at = ? WHERE id = ?", (batch.now, inc.id))
            effects.enqueue(db, inc.id, rows, batch.now)

        batch.writes.append(write)
        batch.effects += len(rows)

    def _people(
        self, contacts: Sequence[str], priority: str, now: float, media: Mapping[str, Sequence[str]]
    ) -> list[str]:
        if self.d.audience is None:
            return effects.contact_channels(contacts, media)
        return self.d.audience(contacts, priority, now)

    def _contacts_of(self, check: str) -> list[str]:
        cfg = self.d.config()
        c = cfg.checks.get(check)
        names = c.notify if c is not None and c.notify is not None else cfg.notify.default
        return [n for n in names if n in cfg.contacts]

    # -- digests of low priorities ----------------------------------------------------------------

    def _digests(self, batch: Batch) -> None:
        """A contact's held items go out as one message once their digest time has passed, listing
        each incident as it stands now; marking the items sent and queueing the message is one write."""
        db = self.d.store.db
        for name, contact in self.d.config().contacts.items():
            d = contact.digest
            items = paging_store.held(db, name) if d is not None else []
            if d is None or not items or not d.due(batch.now, contact.timezone, items[0].created_at):
                continue
            entries: dict[int, dict[str, object]] = {}
            for item in items:
                facts = item.payload.get("facts", {})
                inc = incident_store.get(db, item.incident_id)
                entries.setdefault(item.incident_id, {
                    "key": facts.get("key", ""), "priority": facts.get("priority", ""),
                    "service": facts.get("description") or facts.get("check", ""),
                    "host": facts.get("host", ""),
                    "summary": inc.summary if inc else facts.get("summary", ""),
                    "resolved": inc is not None and not inc.is_open,
                    "acked_by": inc.acked_by if inc else None,
                })  # fmt: skip
            facts = {"items": list(entries.values()), "since": items[0].created_at, "at": batch.now}
            payload = {"incident_id": 0, "queued_at": batch.now, "facts": facts}
            batch.writes.append(
                _digest_write(f"notify:{name}:{d.medium}", payload, [i.id for i in items], batch.now)
            )
            batch.effects += 1
            log.info("digest", contact=name, incidents=len(entries))

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


def _note(c: ticketsync.StoredChange, where: str) -> tuple[str, str]:
    """(timeline action, text) for a change that is only noted."""
    if c.kind == "taken":
        return "ticket_taken", f"{where} taken by {c.who}"
    if c.kind == "closed":
        return "ticket_closed", f"{where} closed by {c.who}" + _quote(c.text)
    return "ticket_reply", f"reply by {c.who} in {where}" + _quote(c.text)


def _quote(text: str, limit: int = 2000) -> str:
    text = text.strip()
    if not text:
        return ""
    return ": " + (text if len(text) <= limit else text[:limit] + "…")


def _open(db: sqlite3.Connection) -> list[Incident]:
    return list(incident_store.open_incidents(db).values())


def _set_suppressed(incident_id: int, reason: str) -> Callable[[sqlite3.Connection], None]:
    def write(db: sqlite3.Connection) -> None:
        db.execute("UPDATE incidents SET suppressed_by = ? WHERE id = ?", (reason, incident_id))

    return write


def _digest_write(
    channel: str, payload: dict[str, object], ids: list[int], now: float
) -> Callable[[sqlite3.Connection], None]:
    def write(db: sqlite3.Connection) -> None:
        paging_store.mark_sent(db, ids, now)
        outbox.enqueue(db, 0, channel, "digest", payload, now)

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
        effects.enqueue(db, inc.id, rows, now)

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
