"""IncidentStage: turns hard state changes into incident decisions and queues their effects.

The incident rows and the outbox rows land in the batch's transaction, with the state change that
caused them (PersistStage commits it). The store is the source of truth for open incidents, so an
ack or a manual resolve made by another process is seen; state changes are rare, so the indexed
lookup per change costs nothing that matters.

While a check is silenced, in maintenance or waiting on a failing parent, its incident is recorded
with `suppressed_by` and tells nobody; FollowUp activates it when the reason ends and the problem
is still there. Recoveries are never held back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import structlog

from watchd.core.incidents import Action, CheckIncidentPolicy, Decision, decide
from watchd.core.model import CheckResult, Incident, IncidentStatus, State
from watchd.core.priority import PriorityPolicy
from watchd.delivery import effects
from watchd.pipeline import Batch
from watchd.store import Store
from watchd.store import incidents as incident_store

log = structlog.get_logger("watchd.incidents")

Write = Callable[[sqlite3.Connection], None]
# (now, incident, result, channels told already) -> page rows due at opening, the write recording them
Pager = Callable[
    [float, Incident, CheckResult | None, Sequence[str]], tuple[list[effects.OutRow], Write | None]
]

_MISSING = object()


@dataclass(frozen=True, slots=True)
class Route:
    """Where a check's incidents go: ticket backends and notify:<contact>:<medium> channels."""

    tickets: tuple[str, ...] = ("builtin",)
    notify: tuple[str, ...] = ()
    description: str = ""
    # (priority, now) -> the notify channels for an incident of that priority now: the contacts'
    # quiet hours and digests applied (daemon.routing); None: `notify` as it is
    audience: Callable[[str, float], list[str]] | None = None

    def people(self, priority: str, now: float) -> list[str]:
        return list(self.notify) if self.audience is None else self.audience(priority, now)


class IncidentStage:
    def __init__(
        self,
        store: Store,
        policy_for: Callable[[str], CheckIncidentPolicy | None],
        route_for: Callable[[str], Route],
        suppression_for: Callable[[str, float], str | None],
        pager: Pager | None = None,
    ) -> None:
        self.store = store
        self._pager = pager
        self._policy_for = policy_for
        self._route_for = route_for
        self._suppression_for = suppression_for
        self._next_id = incident_store.next_id(store.db)
        self.decisions = 0

    async def exec(self, batch: Batch) -> Batch:
        overlay: dict[str, Incident | None] = {}  # decisions earlier in this batch, not yet written
        for event in batch.events:
            for change in event.changes:
                policy = self._policy_for(change.check)
                if policy is None:
                    continue
                current = overlay.get(change.check, _MISSING)
                if current is _MISSING:
                    current = incident_store.open_incident(self.store.db, change.check)
                last = None
                if current is None and policy.reopen_within > 0:
                    last = incident_store.last_resolved(self.store.db, change.check)
                decision = decide(current, last, change, policy, batch.now)  # type: ignore[arg-type]
                if decision.action is Action.NONE or decision.incident is None:
                    continue
                incident = decision.incident
                if decision.action is Action.OPEN:
                    incident = replace(incident, id=self._next_id)
                    self._next_id += 1
                overlay[change.check] = incident if incident.is_open else None
                self._apply(batch, decision, incident, change.result)
        return batch

    def _apply(self, batch: Batch, decision: Decision, inc: Incident, result: CheckResult) -> None:
        action, why, route = decision.action.value, decision.reason, self._route_for(inc.check)
        rows: list[effects.OutRow] = []
        after: Write | None = None
        if decision.action in (Action.OPEN, Action.REOPEN):
            held = self._suppression_for(inc.check, batch.now)
            inc = replace(inc, suppressed_by=held)
            if held is None:
                rows, after = self._opening_rows(inc, action, why, result, batch.now, route)
            else:
                why = f"{why} (held back: {held})"
        elif decision.action is Action.RESOLVE:
            rows = effects.follow_up_rows(self.store.db, inc, "resolve", why, result, batch.now)
        elif inc.suppressed_by is None:
            held = self._suppression_for(inc.check, batch.now)
            if held is None:
                rows = effects.follow_up_rows(
                    self.store.db, inc, "update", why, result, batch.now, notify=False
                )
                if decision.priority_raised:
                    rows += effects.notify_rows(
                        inc,
                        "raised",
                        why,
                        result,
                        batch.now,
                        route.people(inc.priority, batch.now),
                        route.description,
                    )
        self._queue(batch, inc, action, why, rows, after)

    def activate(self, batch: Batch, inc: Incident, why: str, priority: PriorityPolicy) -> None:
        """A held-back incident whose reason ended while the problem persists: open it now, with SLA
        deadlines counted from now, since this is when people can act on it."""
        respond_by, resolve_by = priority.deadlines(inc.priority, batch.now)
        inc = replace(
            inc, suppressed_by=None, respond_by=respond_by, resolve_by=resolve_by, updated_at=batch.now
        )
        route = self._route_for(inc.check)
        self._queue(batch, inc, "open", why, *self._opening_rows(inc, "open", why, None, batch.now, route))

        # People hear about it now: renotification counts from here, not from when it was held back.
        def notified(db: sqlite3.Connection) -> None:
            db.execute("UPDATE incidents SET last_notified_at = ? WHERE id = ?", (batch.now, inc.id))

        batch.writes.append(notified)

    def resolve_removed(self, batch: Batch, checks: set[str], why: str) -> None:
        """A check left the configuration: its open incident resolves, and its tickets are told."""
        for check in sorted(checks):
            current = incident_store.open_incident(self.store.db, check)
            if current is None:
                continue
            resolved = replace(
                current, status=IncidentStatus.RESOLVED, updated_at=batch.now, resolved_at=batch.now
            )
            rows = effects.follow_up_rows(self.store.db, resolved, "resolve", why, None, batch.now)
            self._queue(batch, resolved, "resolve", why, rows)

    def _opening_rows(
        self, inc: Incident, action: str, why: str, result: CheckResult | None, now: float, route: Route
    ) -> tuple[list[effects.OutRow], Write | None]:
        """Tickets, the route's notifications and the pages due at once; and the write recording the
        pages (run after the incident's own, so its timeline reads in order)."""
        rows = effects.ticket_rows(inc, action, why, result, now, route.tickets)
        people = route.people(inc.priority, now)
        rows += effects.notify_rows(inc, "open", why, result, now, people, route.description)
        if self._pager is None:
            return rows, None
        pages, after = self._pager(now, inc, result, people)
        return rows + pages, after

    def _queue(
        self,
        batch: Batch,
        inc: Incident,
        action: str,
        why: str,
        rows: list[effects.OutRow],
        after: Write | None = None,
    ) -> None:
        self.decisions += 1

        def write(db: sqlite3.Connection) -> None:
            effects.record(db, inc, action, why, rows, batch.now)

        batch.writes.append(write)
        if after is not None:
            batch.writes.append(after)
        batch.effects += len(rows)
        batch.incidents.append((action, inc))
        log.info(
            "incident " + action,
            incident=inc.id,
            check=inc.check,
            priority=inc.priority,
            state=inc.state.name,
            why=why,
            held_back=inc.suppressed_by,
            channels=sorted({r.channel for r in rows}),
        )


def alert_result(check: str, failing: bool, text: str, now: float) -> CheckResult:
    """A synthetic result for watchd's own problems (a ticket channel failing), fed through the
    normal pipeline so that it becomes an incident in the fallback channels."""
    return CheckResult(check, State.CRITICAL if failing else State.OK, text, started_at=now)
