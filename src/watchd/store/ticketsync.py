"""Two-way ticket state: what people did in a ticket system (`ticket_changes`, one row per change,
keyed by channel, ticket ref and the change's own id) and how far each ticket has been read
(`ticket_cursors`). Functions over a connection, so a poll's changes and its cursor land in one
transaction: a restart neither loses a change (the cursor moves only with the rows) nor repeats
one (the key)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredChange:
    channel: str
    ref: str
    change_id: str
    incident_id: int
    kind: str
    who: str
    text: str
    at: float


def record(
    db: sqlite3.Connection,
    channel: str,
    ref: str,
    incident_id: int,
    change_id: str,
    kind: str,
    who: str,
    text: str,
    at: float,
    now: float,
) -> bool:
    """Keep a change unless it is known already; True if it is new."""
    cur = db.execute(
        "INSERT OR IGNORE INTO ticket_changes (channel, ref, change_id, incident_id, kind, who, text, at,"
        " recorded_at) VALUES (?,?,?,?,?,?,?,?,?)",
        (channel, ref, change_id, incident_id, kind, who, text, at, now),
    )
    return cur.rowcount == 1


def pending(db: sqlite3.Connection, limit: int = 500) -> list[StoredChange]:
    """Changes recorded but not yet turned into incident actions, oldest first."""
    rows = db.execute(
        "SELECT channel, ref, change_id, incident_id, kind, who, text, at FROM ticket_changes"
        " WHERE applied_at IS NULL ORDER BY recorded_at, at, rowid LIMIT ?",
        (limit,),
    ).fetchall()
    return [StoredChange(*r) for r in rows]


def mark_applied(db: sqlite3.Connection, c: StoredChange, now: float) -> bool:
    """Mark a change as acted on; False if another pass did it first."""
    cur = db.execute(
        "UPDATE ticket_changes SET applied_at = ? WHERE channel = ? AND ref = ? AND change_id = ?"
        " AND applied_at IS NULL",
        (now, c.channel, c.ref, c.change_id),
    )
    return cur.rowcount == 1


def cursor(db: sqlite3.Connection, channel: str, ref: str) -> str | None:
    row = db.execute(
        "SELECT cursor FROM ticket_cursors WHERE channel = ? AND ref = ?", (channel, ref)
    ).fetchone()
    return str(row[0]) if row else None


def set_cursor(db: sqlite3.Connection, channel: str, ref: str, value: str, now: float) -> None:
    db.execute(
        "INSERT INTO ticket_cursors (channel, ref, cursor, polled_at) VALUES (?,?,?,?)"
        " ON CONFLICT (channel, ref) DO UPDATE SET cursor = excluded.cursor, polled_at = excluded.polled_at",
        (channel, ref, value, now),
    )


def incident_for_ref(db: sqlite3.Connection, channel: str, ref: str) -> int | None:
    """The incident whose ticket in `channel` is `ref` (the newest, if a ref was reused)."""
    row = db.execute(
        "SELECT incident_id FROM ticket_refs WHERE channel = ? AND ref = ? ORDER BY incident_id DESC LIMIT 1",
        (channel, ref),
    ).fetchone()
    return int(row[0]) if row else None
