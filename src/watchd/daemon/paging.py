"""Pager: turns an incident's escalation policy (`oncall.escalation`) into outbox rows.

    start(batch, inc, ...)   at open or activation: marks when paging began, fires what is due now
                             (level 1, `after: 0`, in the same transaction as the incident)
    follow(batch, inc)       from FollowUp: the levels that came due since, each once

Fired levels are rows of `escalations` with deadline "page" (level -1 marks the start), written
with the pages themselves, so a restart neither repeats nor forgets a level. Each page goes to the
media of the contacts the level names (rotations resolved to whoever is on duty then), minus the
media their quiet hours mute for this priority.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence

import structlog

from watchd.config import Config
from watchd.core import paging
from watchd.core.model import CheckResult, Incident
from watchd.core.oncall import PagingPolicy
from watchd.delivery import effects
from watchd.pipeline import Batch
from watchd.store import incidents as incident_store

log = structlog.get_logger("watchd.paging")

DEADLINE = "page"
START = -1


class Pager:
    def __init__(
        self,
        config: Callable[[], Config],
        description: Callable[[str], str],
        channels: Callable[[Iterable[str], str, float], list[str]],
    ) -> None:
        """`channels(contacts, priority, now)`: their notify channels now (daemon.routing)."""
        self._config = config
        self._description = description
        self._channels = channels

    def policy(self, inc: Incident) -> PagingPolicy | None:
        o = self._config().oncall
        name = o.escalation.get(inc.priority)
        return o.policies.get(name) if name else None

    def start(
        self, now: float, inc: Incident, result: CheckResult | None, told: Iterable[str]
    ) -> tuple[list[effects.OutRow], Callable[[sqlite3.Connection], None] | None]:
        """Begin paging a newly opened (or released) incident: the rows of the levels due now, minus
        channels in `told` (the route's own notifications of the same opening), and the write that
        records it (to run after the incident's own)."""
        policy = self.policy(inc)
        if policy is None:
            return [], None
        rows, marks = self._fire(now, inc, policy, now, set(), result, set(told))
        return rows, _marks(inc, now, [(START, ""), *marks], restart=True)

    def follow(self, db: sqlite3.Connection, batch: Batch, inc: Incident) -> None:
        """Queue the levels due since the last pass."""
        policy = self.policy(inc)
        if policy is None:
            return
        started, fired_before = _fired(db, inc)
        new_marks: list[tuple[int, str]] = []
        if started is None:  # opened before paging was configured: page from now on
            started = batch.now
            new_marks.append((START, ""))
        rows, fired = self._fire(batch.now, inc, policy, started, fired_before, None, set())
        if rows or new_marks or fired:
            batch.writes.append(_marks(inc, batch.now, new_marks + fired, rows))
            batch.effects += len(rows)

    def next_page(self, db: sqlite3.Connection, inc: Incident) -> tuple[str | None, float | None]:
        """(policy name, when its next level fires) for `watchd incidents show` and the API; no time
        once the incident is acknowledged, resolved or held back, or the chain has run out."""
        policy = self.policy(inc)
        if policy is None:
            return None, None
        if not inc.is_open or inc.acked_at is not None or inc.suppressed_by is not None:
            return policy.name, None
        started, fired = _fired(db, inc)
        return policy.name, paging.next_due(inc, policy, inc.opened_at if started is None else started, fired)

    def _fire(
        self,
        now: float,
        inc: Incident,
        policy: PagingPolicy,
        started: float,
        fired: set[int],
        result: CheckResult | None,
        told: set[str],
    ) -> tuple[list[effects.OutRow], list[tuple[int, str]]]:
        rotations = self._config().oncall.rotations
        rows: list[effects.OutRow] = []
        marks: list[tuple[int, str]] = []
        for page in paging.due(inc, now, policy, rotations, started, fired):
            why = f"paging level {page.level + 1} of {policy.name}: {', '.join(page.contacts) or 'nobody'}"
            if page.nobody:
                why += f" (nobody on duty in {', '.join(page.nobody)})"
                log.warning("nobody on duty", incident=inc.id, rotations=page.nobody, level=page.level + 1)
            channels = [c for c in self._channels(page.contacts, inc.priority, now) if c not in told]
            event = "open" if page.number == 0 else "escalate"
            rows += effects.notify_rows(inc, event, why, result, now, channels, self._description(inc.check))
            marks.append((page.number, why))
            log.info("page", incident=inc.id, level=page.level + 1, round=page.round, contacts=page.contacts)
        return rows, marks


def _fired(db: sqlite3.Connection, inc: Incident) -> tuple[float | None, set[int]]:
    """(when paging began, the level numbers fired since) from the store."""
    query = "SELECT level, fired_at FROM escalations WHERE incident_id = ? AND deadline = ?"
    marks = dict(db.execute(query, (inc.id, DEADLINE)).fetchall())
    return marks.pop(START, None), set(marks)


def _marks(
    inc: Incident,
    now: float,
    marks: list[tuple[int, str]],
    rows: Sequence[effects.OutRow] = (),
    restart: bool = False,
) -> Callable[[sqlite3.Connection], None]:
    """Record fired levels (with a timeline entry each) and queue `rows`, in the caller's transaction.
    `restart`: a reopened incident pages from the start again."""

    def write(db: sqlite3.Connection) -> None:
        if restart:
            db.execute("DELETE FROM escalations WHERE incident_id = ? AND deadline = ?", (inc.id, DEADLINE))
        for number, why in marks:
            db.execute(
                "INSERT OR IGNORE INTO escalations (incident_id, deadline, level, fired_at) VALUES (?,?,?,?)",
                (inc.id, DEADLINE, number, now),
            )
            if why:
                incident_store.log_event(db, inc, "page", why)
        effects.enqueue(db, inc.id, rows, now)

    return write
