"""Things people do to incidents, shared by the CLI, the HTTP API and MQTT commands.

Each action is one store transaction that also queues the ticket updates it implies, so it works
the same from another process (the CLI) as from inside the daemon (API, MQTT).
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Collection

from watchd.config import Config
from watchd.core import timespec
from watchd.core.model import Incident, IncidentStatus
from watchd.delivery import effects
from watchd.store import Store
from watchd.store import incidents as incident_store


class ActionError(Exception):
    """The action cannot be done (unknown id, wrong state); the message says why."""


MAX_ID = 2**63 - 1  # SQLite's largest integer: no row has a larger id


def valid_id(row_id: int) -> bool:
    """Whether some row could have this id (SQLite refuses to even look up a larger one)."""
    return 1 <= row_id <= MAX_ID


def _known(row_id: int, what: str) -> None:
    if not valid_id(row_id):
        raise ActionError(f"no {what} #{row_id}")


def ack(store: Store, incident_id: int, by: str, comment: str, now: float) -> Incident:
    """Acknowledge an open incident: stops escalation and renotification; tells its ticket systems."""
    _known(incident_id, "incident")
    with store.transaction() as db:
        return ack_in(db, incident_id, by, comment, now)


def ack_in(db: sqlite3.Connection, incident_id: int, by: str, comment: str, now: float) -> Incident:
    """`ack` inside the caller's transaction (an ack link records its use in the same one)."""
    if not incident_store.ack(db, incident_id, by, now):
        inc = incident_store.get(db, incident_id)
        if inc is None:
            raise ActionError(f"no incident #{incident_id}")
        if not inc.is_open:
            raise ActionError(f"incident #{incident_id} is resolved")
        raise ActionError(f"incident #{incident_id} was already acknowledged by {inc.acked_by}")
    inc = incident_store.get(db, incident_id)
    assert inc is not None
    why = f"acknowledged by {by}" + (f": {comment}" if comment else "")
    inc = dataclasses.replace(inc, updated_at=now)
    effects.record(db, inc, "ack", why, effects.follow_up_rows(db, inc, "ack", why, None, now), now)
    return inc


def resolve(store: Store, incident_id: int, by: str, comment: str, now: float) -> Incident:
    """Resolve by hand. If the problem persists, the check's next state change opens a new incident."""
    _known(incident_id, "incident")
    with store.transaction() as db:
        return resolve_in(db, incident_id, by, comment, now)


def resolve_in(db: sqlite3.Connection, incident_id: int, by: str, comment: str, now: float) -> Incident:
    inc = incident_store.get(db, incident_id)
    if inc is None:
        raise ActionError(f"no incident #{incident_id}")
    if not inc.is_open:
        raise ActionError(f"incident #{incident_id} is already resolved")
    why = f"resolved by {by}" + (f": {comment}" if comment else "")
    inc = dataclasses.replace(inc, status=IncidentStatus.RESOLVED, updated_at=now, resolved_at=now)
    effects.record(db, inc, "resolve", why, effects.follow_up_rows(db, inc, "resolve", why, None, now), now)
    return inc


def add_silence(
    store: Store, check: str, starts_at: float, ends_at: float, by: str, comment: str, now: float
) -> int:
    """Silence a check (no tickets, no notifications) until `ends_at`; results are still recorded."""
    _check_span("silence", starts_at, ends_at, now)
    with store.transaction() as db:
        cur = db.execute(
            "INSERT INTO silences (check_name, starts_at, ends_at, created_by, comment, created_at)"
            " VALUES (?,?,?,?,?,?)",
            (check, starts_at, ends_at, by, comment, now),
        )
    return int(cur.lastrowid or 0)


def remove_silence(store: Store, silence_id: int, now: float) -> None:
    _end(store, "silences", "silence", silence_id, now)


DOWNTIME_SCOPES = ("host", "check", "tag")


def target_problem(
    config: Config, scope: str, target: str | None, statuses: Collection[str] = ()
) -> tuple[str, str] | None:
    """(field, what is wrong) for a silence or downtime target, or None. A check is known when it is
    configured or has a status (fleet.* peers, watchd.* alerts); a tag when a configured check has it."""
    if scope not in DOWNTIME_SCOPES:
        return "scope", f"expected one of {', '.join(DOWNTIME_SCOPES)}"
    if scope == "host":
        return None
    if not target:
        return "target", f"is required for scope {scope}"
    if scope == "check" and target not in config.checks and target not in statuses:
        return "target", f"unknown check {target!r} (configured: {', '.join(sorted(config.checks))})"
    if scope == "tag" and not any(target in c.tags for c in config.checks.values()):
        return "target", f"no check has the tag {target!r}"
    return None


def add_downtime(
    store: Store,
    scope: str,
    target: str,
    starts_at: float,
    ends_at: float,
    by: str,
    comment: str,
    announce: bool,
    now: float,
) -> int:
    """A one-off maintenance window for the host, a check or a tag."""
    if scope not in DOWNTIME_SCOPES:
        raise ActionError(f"scope must be one of {', '.join(DOWNTIME_SCOPES)}")
    _check_span("downtime", starts_at, ends_at, now)
    with store.transaction() as db:
        cur = db.execute(
            "INSERT INTO downtimes (scope, target, starts_at, ends_at, comment, created_by, announce,"
            " created_at) VALUES (?,?,?,?,?,?,?,?)",
            (scope, target, starts_at, ends_at, comment, by, int(announce), now),
        )
    return int(cur.lastrowid or 0)


def remove_downtime(store: Store, downtime_id: int, now: float) -> None:
    """Cancel a downtime; if it was announced and has not started, the daemon sends the cancellation."""
    _end(store, "downtimes", "downtime", downtime_id, now)


def _check_span(what: str, starts_at: float, ends_at: float, now: float) -> None:
    """The last guard before a row is written, whoever asked (API, CLI, MQTT): every later read
    must be able to render the row, so both times are finite and within timespec's range."""
    for name, t in (("starts_at", starts_at), ("ends_at", ends_at)):
        try:
            timespec.check_instant(t)
        except ValueError as exc:
            raise ActionError(f"{name}: {exc}") from None
    if ends_at <= starts_at:
        raise ActionError(f"a {what} must end after it starts")
    if ends_at <= now:
        raise ActionError(f"that {what} would already be over")
    if ends_at - starts_at > timespec.MAX_SPAN:
        raise ActionError(f"a {what} may last at most 366 days")


def _end(store: Store, table: str, what: str, row_id: int, now: float) -> None:
    """End a silence or downtime now (table is one of ours, never user input)."""
    _known(row_id, f"active {what}")
    with store.transaction() as db:
        cur = db.execute(
            f"UPDATE {table} SET removed_at = ? WHERE id = ? AND removed_at IS NULL", (now, row_id)
        )
    if cur.rowcount != 1:
        raise ActionError(f"no active {what} #{row_id}")
