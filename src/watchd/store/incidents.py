"""Persistence of incidents and their timeline. Functions over a connection, so that callers can
write incidents in the same transaction as the state change and the outbox rows they cause."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from watchd.core.model import Incident, IncidentStatus, State

_COLUMNS = (
    "id, host, check_name, status, priority, impact, urgency, state, summary, opened_at, updated_at,"
    " respond_by, resolve_by, resolved_at, acked_at, acked_by, flapping, reopened, suppressed_by"
)


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    incident_id: int
    at: float
    action: str
    priority: str
    state: State
    text: str


def save(db: sqlite3.Connection, inc: Incident) -> None:
    """Insert or update an incident (ids are allocated by the caller: see next_id).

    The acknowledgement columns are only written by `ack`, so a policy update never erases an ack
    made meanwhile by another process (the CLI, the API)."""
    db.execute(
        f"INSERT INTO incidents ({_COLUMNS}) VALUES ({','.join('?' * 19)})"
        " ON CONFLICT (id) DO UPDATE SET status=excluded.status, priority=excluded.priority,"
        " state=excluded.state, summary=excluded.summary, updated_at=excluded.updated_at,"
        " respond_by=excluded.respond_by, resolve_by=excluded.resolve_by, resolved_at=excluded.resolved_at,"
        " flapping=excluded.flapping, reopened=excluded.reopened, suppressed_by=excluded.suppressed_by",
        (
            inc.id, inc.host, inc.check, inc.status.value, inc.priority, inc.impact, inc.urgency,
            int(inc.state), inc.summary, inc.opened_at, inc.updated_at, inc.respond_by, inc.resolve_by,
            inc.resolved_at, inc.acked_at, inc.acked_by, int(inc.flapping), inc.reopened, inc.suppressed_by,
        ),
    )  # fmt: skip


def next_id(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT coalesce(max(id), 0) + 1 FROM incidents").fetchone()[0])


def ack(db: sqlite3.Connection, incident_id: int, by: str, at: float) -> bool:
    """Record an acknowledgement; False if the incident is unknown, resolved or already acked."""
    cur = db.execute(
        "UPDATE incidents SET acked_at = ?, acked_by = ?"
        " WHERE id = ? AND status = 'open' AND acked_at IS NULL",
        (at, by, incident_id),
    )
    return cur.rowcount == 1


def open_incident(db: sqlite3.Connection, check: str) -> Incident | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM incidents WHERE check_name = ? AND status = 'open' ORDER BY id DESC LIMIT 1",
        (check,),
    ).fetchone()
    return _from_row(row) if row else None


def log_event(db: sqlite3.Connection, inc: Incident, action: str, text: str) -> None:
    db.execute(
        "INSERT INTO incident_events (incident_id, at, action, priority, state, text) VALUES (?,?,?,?,?,?)",
        (inc.id, inc.updated_at, action, inc.priority, int(inc.state), text),
    )


def open_incidents(db: sqlite3.Connection) -> dict[str, Incident]:
    """Open incidents by check name."""
    rows = db.execute(f"SELECT {_COLUMNS} FROM incidents WHERE status = 'open'").fetchall()
    return {row[2]: _from_row(row) for row in rows}


def last_resolved(db: sqlite3.Connection, check: str) -> Incident | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM incidents WHERE check_name = ? AND status = 'resolved'"
        " ORDER BY resolved_at DESC LIMIT 1",
        (check,),
    ).fetchone()
    return _from_row(row) if row else None


def get(db: sqlite3.Connection, incident_id: int) -> Incident | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM incidents WHERE id = ?", (incident_id,)).fetchone()
    return _from_row(row) if row else None


def query(
    db: sqlite3.Connection,
    status: str | None = None,
    priority: str | None = None,
    check: str | None = None,
    since: float = 0.0,
    limit: int = 100,
) -> list[Incident]:
    sql = f"SELECT {_COLUMNS} FROM incidents WHERE (opened_at >= ? OR status = 'open')"
    args: list[object] = [since]
    for column, value in (("status", status), ("priority", priority), ("check_name", check)):
        if value is not None:
            sql += f" AND {column} = ?"
            args.append(value)
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(limit)
    return [_from_row(r) for r in db.execute(sql, args)]


def events(db: sqlite3.Connection, incident_id: int) -> list[IncidentEvent]:
    rows = db.execute(
        "SELECT incident_id, at, action, priority, state, text FROM incident_events WHERE incident_id = ?"
        " ORDER BY id",
        (incident_id,),
    )
    return [IncidentEvent(r[0], r[1], r[2], r[3], State(r[4]), r[5]) for r in rows]


def _from_row(r: tuple) -> Incident:  # type: ignore[type-arg]
    return Incident(
        id=r[0], host=r[1], check=r[2], status=IncidentStatus(r[3]), priority=r[4], impact=r[5],
        urgency=r[6], state=State(r[7]), summary=r[8], opened_at=r[9], updated_at=r[10],
        respond_by=r[11], resolve_by=r[12], resolved_at=r[13], acked_at=r[14], acked_by=r[15],
        flapping=bool(r[16]), reopened=r[17], suppressed_by=r[18],
    )  # fmt: skip
