"""SQLite persistence: current check statuses and their change log. The store persists; it decides nothing.

One connection, WAL mode, used from the event loop thread: every statement here is a few tens of
microseconds, and writes that are not urgent are batched by the caller.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from watchd.core.model import CheckStatus, State, StateChange, StateType

# Each entry upgrades the schema by one version (PRAGMA user_version); never edit a shipped one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE check_status (
        check_name TEXT PRIMARY KEY,
        state INTEGER NOT NULL,
        state_type TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        hard_state INTEGER NOT NULL,
        last_check REAL NOT NULL,
        last_change REAL NOT NULL,
        last_hard_change REAL NOT NULL,
        summary TEXT NOT NULL,
        flapping INTEGER NOT NULL,
        flap_history TEXT NOT NULL,
        percent_state_change REAL NOT NULL
    );
    CREATE TABLE state_log (
        id INTEGER PRIMARY KEY,
        check_name TEXT NOT NULL,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        previous INTEGER NOT NULL,
        state INTEGER NOT NULL,
        state_type TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        summary TEXT NOT NULL
    );
    CREATE INDEX state_log_check_at ON state_log (check_name, at);
    """,
    """
    CREATE TABLE incidents (
        id INTEGER PRIMARY KEY,
        host TEXT NOT NULL,
        check_name TEXT NOT NULL,
        status TEXT NOT NULL,
        priority TEXT NOT NULL,
        impact TEXT NOT NULL,
        urgency TEXT NOT NULL,
        state INTEGER NOT NULL,
        summary TEXT NOT NULL,
        opened_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        respond_by REAL,
        resolve_by REAL,
        resolved_at REAL,
        acked_at REAL,
        acked_by TEXT,
        flapping INTEGER NOT NULL,
        reopened INTEGER NOT NULL,
        suppressed_by TEXT
    );
    CREATE INDEX incidents_check_status ON incidents (check_name, status);
    CREATE TABLE incident_events (
        id INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL,
        at REAL NOT NULL,
        action TEXT NOT NULL,
        priority TEXT NOT NULL,
        state INTEGER NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX incident_events_incident ON incident_events (incident_id, id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL,
        last_error TEXT,
        done_at REAL
    );
    CREATE INDEX outbox_pending ON outbox (status, incident_id, channel, id);
    CREATE TABLE ticket_refs (
        incident_id INTEGER NOT NULL,
        channel TEXT NOT NULL,
        ref TEXT NOT NULL,
        PRIMARY KEY (incident_id, channel)
    );
    CREATE TABLE builtin_tickets (
        key TEXT PRIMARY KEY,
        incident_id INTEGER NOT NULL,
        status TEXT NOT NULL,
        subject TEXT NOT NULL,
        priority TEXT NOT NULL,
        host TEXT NOT NULL,
        check_name TEXT NOT NULL,
        opened_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        resolved_at REAL
    );
    CREATE TABLE builtin_ticket_notes (
        op_id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL
    );
    """,
    """
    ALTER TABLE incidents ADD COLUMN response_breached_at REAL;
    ALTER TABLE incidents ADD COLUMN resolution_breached_at REAL;
    ALTER TABLE incidents ADD COLUMN escalation_level INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE incidents ADD COLUMN last_notified_at REAL;
    CREATE TABLE silences (
        id INTEGER PRIMARY KEY,
        check_name TEXT NOT NULL,
        starts_at REAL NOT NULL,
        ends_at REAL NOT NULL,
        created_by TEXT NOT NULL,
        comment TEXT NOT NULL,
        created_at REAL NOT NULL,
        removed_at REAL
    );
    CREATE TABLE downtimes (
        id INTEGER PRIMARY KEY,
        scope TEXT NOT NULL,
        target TEXT NOT NULL,
        starts_at REAL NOT NULL,
        ends_at REAL NOT NULL,
        comment TEXT NOT NULL,
        created_by TEXT NOT NULL,
        announce INTEGER NOT NULL,
        created_at REAL NOT NULL,
        removed_at REAL
    );
    CREATE TABLE announcements (
        window_key TEXT NOT NULL,
        starts_at REAL NOT NULL,
        kind TEXT NOT NULL,
        sent_at REAL NOT NULL,
        PRIMARY KEY (window_key, starts_at, kind)
    );
    CREATE TABLE escalations (
        incident_id INTEGER NOT NULL,
        deadline TEXT NOT NULL,
        level INTEGER NOT NULL,
        fired_at REAL NOT NULL,
        PRIMARY KEY (incident_id, deadline, level)
    );
    CREATE TABLE daemon_runs (
        id INTEGER PRIMARY KEY,
        started_at REAL NOT NULL,
        last_seen REAL NOT NULL,
        stopped_at REAL
    );
    """    # two-way tickets: each change a person made in a ticket system, once (store/ticketsync.py)
    """
    CREATE TABLE ticket_changes (
        channel TEXT NOT NULL,
        ref TEXT NOT NULL,
        change_id TEXT NOT NULL,
        incident_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        who TEXT NOT NULL,
        text TEXT NOT NULL,
        at REAL NOT NULL,
        recorded_at REAL NOT NULL,
        applied_at REAL,
        PRIMARY KEY (channel, ref, change_id)
    );
    CREATE INDEX ticket_changes_pending ON ticket_changes (applied_at);
    CREATE TABLE ticket_cursors (
        channel TEXT NOT NULL,
        ref TEXT NOT NULL,
        cursor TEXT NOT NULL,
        polled_at REAL NOT NULL,
        PRIMARY KEY (channel, ref)
    );
    """,
    # paging (store/paging.py): used ack/resolve link nonces, held digest items
    """
    CREATE TABLE link_uses (
        nonce TEXT PRIMARY KEY,
        incident_id INTEGER NOT NULL,
        action TEXT NOT NULL,
        contact TEXT NOT NULL,
        used_at REAL NOT NULL
    );
    CREATE TABLE digest_items (
        id INTEGER PRIMARY KEY,
        contact TEXT NOT NULL,
        incident_id INTEGER NOT NULL,
        event TEXT NOT NULL,
        facts TEXT NOT NULL,
        created_at REAL NOT NULL,
        sent_at REAL
    );
    CREATE INDEX digest_items_unsent ON digest_items (contact, sent_at);
    """,
]


@dataclass(frozen=True, slots=True)
class LoggedChange:
    check: str
    at: float
    kind: str
    previous: State
    state: State
    state_type: StateType
    attempt: int
    summary: str


class Store:
    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o750, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA busy_timeout = 5000")
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self._migrate()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in filter(str.strip, script.split(";")):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; everything written inside lands together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def writable(self, wait_ms: int = 200) -> bool:
        """Can a write transaction start now? Waits at most `wait_ms` for another process's lock, so a
        health probe never stalls the event loop for the full busy timeout."""
        self.db.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
        try:
            with self.transaction() as db:
                db.execute("PRAGMA user_version")
            return True
        except sqlite3.Error:
            return False
        finally:
            self.db.execute("PRAGMA busy_timeout = 5000")

    # -- daemon run periods (what the SLA report counts as "not monitored") -----------------------

    def run_started(self, now: float) -> int:
        with self.transaction() as db:
            cur = db.execute("INSERT INTO daemon_runs (started_at, last_seen) VALUES (?, ?)", (now, now))
        return int(cur.lastrowid or 0)

    def run_seen(self, run_id: int, now: float, stopped: bool = False) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE daemon_runs SET last_seen = ?, stopped_at = ? WHERE id = ?",
                (now, now if stopped else None, run_id),
            )

    # -- check statuses ---------------------------------------------------------------------------

    def load_statuses(self) -> dict[str, CheckStatus]:
        rows = self.db.execute("SELECT * FROM check_status").fetchall()
        return {row[0]: _status_from_row(row) for row in rows}

    def save(self, statuses: Iterable[CheckStatus], changes: Iterable[StateChange] = ()) -> None:
        """Write statuses and their change events in one transaction."""
        with self.transaction() as db:
            self.write(db, statuses, changes)

    @staticmethod
    def write(
        db: sqlite3.Connection, statuses: Iterable[CheckStatus], changes: Iterable[StateChange]
    ) -> None:
        """Write inside a transaction the caller holds (so later stages can add their rows to it)."""
        db.executemany(
            "INSERT OR REPLACE INTO check_status VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [_status_row(s) for s in statuses],
        )
        db.executemany(
            "INSERT INTO state_log (check_name, at, kind, previous, state, state_type, attempt, summary)"
            " VALUES (?,?,?,?,?,?,?,?)",
            [
                (
                    c.check,
                    c.at,
                    c.kind.value,
                    int(c.previous),
                    int(c.state),
                    c.state_type.value,
                    c.attempt,
                    c.result.summary,
                )
                for c in changes
            ],
        )

    def delete_statuses(self, checks: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany("DELETE FROM check_status WHERE check_name = ?", [(c,) for c in checks])

    def changes(self, check: str | None = None, since: float = 0.0, limit: int = 1000) -> list[LoggedChange]:
        sql = (
            "SELECT check_name, at, kind, previous, state, state_type, attempt, summary"
            " FROM state_log WHERE at >= ?"
        )
        args: list[object] = [since]
        if check is not None:
            sql += " AND check_name = ?"
            args.append(check)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [
            LoggedChange(r[0], r[1], r[2], State(r[3]), State(r[4]), StateType(r[5]), r[6], r[7])
            for r in self.db.execute(sql, args)
        ]


def _status_row(s: CheckStatus) -> tuple[object, ...]:
    return (
        s.check,
        int(s.state),
        s.state_type.value,
        s.attempt,
        int(s.hard_state),
        s.last_check,
        s.last_change,
        s.last_hard_change,
        s.summary,
        int(s.flapping),
        "".join(str(int(x)) for x in s.flap_history),
        s.percent_state_change,
    )


def _status_from_row(r: tuple[Any, ...]) -> CheckStatus:
    return CheckStatus(
        check=str(r[0]),
        state=State(r[1]),
        state_type=StateType(r[2]),
        attempt=int(r[3]),
        hard_state=State(r[4]),
        last_check=float(r[5]),
        last_change=float(r[6]),
        last_hard_change=float(r[7]),
        summary=str(r[8]),
        flapping=bool(r[9]),
        flap_history=tuple(State(int(c)) for c in str(r[10])),
        percent_state_change=float(r[11]),
    )
