"""The console's history in SQLite: state changes, incidents, host up/down, maintenance windows seen,
and perfdata samples for graphs.

Writes are queued by the subscriber and committed together (`flush`, about once a second), so a burst
of retained messages after a restart costs one transaction, not thousands. Samples are kept at full
resolution for `raw_days`, then as hourly min/avg/max (`rollup`), like an RRD's consolidation: a month
graph reads about 750 rows per series, not 9,000.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from watchd.console.view import Change, HostChanged, IncidentChanged, MaintenanceChanged, StateChanged

SCHEMA = """
CREATE TABLE IF NOT EXISTS state_changes (
    host TEXT NOT NULL, check_name TEXT NOT NULL, at REAL NOT NULL,
    state TEXT NOT NULL, hard_state TEXT NOT NULL, summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS state_changes_by_check ON state_changes (host, check_name, at);
CREATE INDEX IF NOT EXISTS state_changes_by_time ON state_changes (at);
CREATE TABLE IF NOT EXISTS incidents (
    host TEXT NOT NULL, id INTEGER NOT NULL, check_name TEXT NOT NULL, priority TEXT NOT NULL,
    summary TEXT NOT NULL, opened_at REAL, resolved_at REAL, acked_at REAL, acked_by TEXT,
    doc TEXT NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (host, id)
);
CREATE INDEX IF NOT EXISTS incidents_by_time ON incidents (opened_at);
CREATE TABLE IF NOT EXISTS host_events (
    host TEXT NOT NULL, at REAL NOT NULL, online INTEGER, reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS maintenance (
    host TEXT NOT NULL, start REAL NOT NULL, end REAL NOT NULL, checks TEXT NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (host, start, end, checks)
);
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, host TEXT NOT NULL, check_name TEXT NOT NULL, label TEXT NOT NULL,
    uom TEXT NOT NULL, warn REAL, crit REAL, UNIQUE (host, check_name, label)
);
CREATE TABLE IF NOT EXISTS samples (
    series INTEGER NOT NULL, t INTEGER NOT NULL, v REAL NOT NULL, PRIMARY KEY (series, t)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hourly (
    series INTEGER NOT NULL, t INTEGER NOT NULL, vmin REAL NOT NULL, vavg REAL NOT NULL, vmax REAL NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (series, t)
) WITHOUT ROWID;
"""


MAX_PENDING = 1_000_000  # graph samples held while the database cannot be written


@dataclass(frozen=True, slots=True)
class Sample:
    host: str
    check: str
    label: str
    uom: str
    value: float
    warn: float | None
    crit: float | None
    at: float


def connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    return db


_DROP_SUPERSEDED = (
    "DELETE FROM {table} WHERE at < ? AND rowid NOT IN (SELECT rowid FROM (SELECT rowid, row_number()"
    " OVER (PARTITION BY {key} ORDER BY at DESC, rowid DESC) AS n FROM {table} WHERE at < ?) WHERE n = 1)"
)


class History:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._changes: list[Change] = []
        self._samples: list[Sample] = []
        self.written = 0

    def add(self, change: Change) -> None:
        self._changes.append(change)

    def sample(self, s: Sample) -> None:
        self._samples.append(s)

    @property
    def pending(self) -> int:
        return len(self._changes) + len(self._samples)

    def flush(self) -> int:
        """Commit what is queued, in one transaction. Returns the number of rows written."""
        changes, samples = self._changes, self._samples
        if not changes and not samples:
            return 0
        self._changes, self._samples = [], []
        db = self.db
        db.execute("BEGIN")
        try:
            for c in changes:
                _write(db, c)
            rows = [(self._series_id(s), int(s.at), s.value) for s in samples]
            db.executemany("INSERT OR REPLACE INTO samples (series, t, v) VALUES (?,?,?)", rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            # Kept for the next flush (a full disk, a locked file); beyond MAX_PENDING the oldest
            # samples go first: state changes and incidents matter more than one graph point.
            self._changes = changes + self._changes
            self._samples = (samples + self._samples)[-MAX_PENDING:]
            raise
        self.written += len(changes) + len(samples)
        return len(changes) + len(samples)

    def _series_id(self, s: Sample) -> int:
        """The series' id; made, or updated when its unit or thresholds changed. Looked up in
        SQLite, not cached here: 400,000 series (10,000 hosts x 20 checks x 2 labels) held as
        Python keys took 150 MB, the lookup costs a few microseconds per sample."""
        db = self.db
        key = (s.host, s.check, s.label)
        row = db.execute(
            "SELECT id, uom, warn, crit FROM series WHERE host = ? AND check_name = ? AND label = ?", key
        ).fetchone()
        if row is None:
            cur = db.execute(
                "INSERT INTO series (host, check_name, label, uom, warn, crit) VALUES (?,?,?,?,?,?)",
                (*key, s.uom, s.warn, s.crit),
            )
            assert cur.lastrowid is not None  # an INSERT's
            return cur.lastrowid
        if (row[1], row[2], row[3]) != (s.uom, s.warn, s.crit):
            db.execute(
                "UPDATE series SET uom = ?, warn = ?, crit = ? WHERE id = ?", (s.uom, s.warn, s.crit, row[0])
            )
        return int(row[0])

    # -- housekeeping ---------------------------------------------------------------------------

    def rollup(self, now: float, raw_days: float, days: float, history_days: float) -> None:
        """Fold samples older than `raw_days` into hourly rows; drop what is past its retention."""
        cut = int(now - raw_days * 86400) // 3600 * 3600
        db = self.db
        db.execute("BEGIN")
        try:
            db.execute(
                "INSERT OR REPLACE INTO hourly (series, t, vmin, vavg, vmax, n)"
                " SELECT series, t / 3600 * 3600 AS h, min(v), avg(v), max(v), count(*) FROM samples"
                " WHERE t < ? GROUP BY series, h",
                (cut,),
            )
            db.execute("DELETE FROM samples WHERE t < ?", (cut,))
            db.execute("DELETE FROM hourly WHERE t < ?", (now - days * 86400,))
            old = now - history_days * 86400
            # The newest row before the cut stays, per check and per host: it is the state the kept
            # history starts in. Without it a check that was OK for longer than history_days would
            # count as never seen, and a host offline since then as online.
            db.execute(_DROP_SUPERSEDED.format(table="state_changes", key="host, check_name"), (old, old))
            db.execute(_DROP_SUPERSEDED.format(table="host_events", key="host"), (old, old))
            db.execute("DELETE FROM incidents WHERE resolved_at IS NOT NULL AND resolved_at < ?", (old,))
            db.execute("DELETE FROM maintenance WHERE end < ?", (old,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close_missing_incidents(self, open_now: dict[str, set[int]], now: float) -> int:
        """Incidents history holds as open but no host publishes any more were resolved while the
        console was away: closed at `now` (when it noticed; the host knows the exact time)."""
        self.flush()
        rows = self.db.execute("SELECT host, id FROM incidents WHERE resolved_at IS NULL").fetchall()
        gone = [(now, now, host, i) for host, i in rows if i not in open_now.get(host, ())]
        if gone:
            self.db.executemany(
                "UPDATE incidents SET resolved_at = ?, updated_at = ? WHERE host = ? AND id = ?", gone
            )
        return len(gone)

def _write(db: sqlite3.Connection, c: Change) -> None:
    if isinstance(c, StateChanged):
        db.execute(
            "INSERT INTO state_changes (host, check_name, at, state, hard_state, summary)"
            " VALUES (?,?,?,?,?,?)",
            (c.host, c.check, c.at, c.state, c.hard_state, c.summary),
        )
    elif isinstance(c, IncidentChanged):
        if c.doc is None:
            # The host clears the topic right after publishing the resolved snapshot. If that was
            # missed (or a stale retained copy came after it), the clear is the news: resolved now.
            db.execute(
                "UPDATE incidents SET resolved_at = ?, updated_at = ? WHERE host = ? AND id = ?"
                " AND resolved_at IS NULL",
                (c.at, c.at, c.host, c.id),
            )
            return
        d = c.doc
        db.execute(
            "INSERT INTO incidents (host, id, check_name, priority, summary, opened_at, resolved_at,"
            " acked_at, acked_by, doc, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (host, id) DO UPDATE SET check_name = excluded.check_name,"
            " priority = excluded.priority, summary = excluded.summary, opened_at = excluded.opened_at,"
            " resolved_at = excluded.resolved_at, acked_at = excluded.acked_at,"
            " acked_by = excluded.acked_by, doc = excluded.doc, updated_at = excluded.updated_at",
            (
                c.host, c.id, _s(d.get("check")), _s(d.get("priority")), _s(d.get("summary")),
                _f(d.get("opened_at")), _f(d.get("resolved_at")), _f(d.get("acked_at")),
                d.get("acked_by") if isinstance(d.get("acked_by"), str) else None,
                json.dumps(d, separators=(",", ":")), _f(d.get("updated_at")) or 0.0,
            ),
        )  # fmt: skip
    elif isinstance(c, HostChanged):
        online = None if c.online is None else int(c.online)
        db.execute(
            "INSERT INTO host_events (host, at, online, reason) VALUES (?,?,?,?)",
            (c.host, c.at, online, c.reason),
        )
    elif isinstance(c, MaintenanceChanged):
        for w in c.windows:
            start, end = _f(w.get("start")), _f(w.get("end"))
            if start is None or end is None:
                continue
            checks = ",".join(str(x) for x in w.get("checks") or ())
            db.execute(
                "INSERT OR REPLACE INTO maintenance (host, start, end, checks, reason) VALUES (?,?,?,?,?)",
                (c.host, start, end, checks, _s(w.get("reason") or w.get("comment"))),
            )


def _s(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _f(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


# -- reading ----------------------------------------------------------------------------------------


SeriesRow = tuple[int, str, str, float | None, float | None]  # id, label, uom, warn, crit


def series_of(db: sqlite3.Connection, host: str, check: str) -> list[SeriesRow]:
    return db.execute(
        "SELECT id, label, uom, warn, crit FROM series WHERE host = ? AND check_name = ? ORDER BY label",
        (host, check),
    ).fetchall()


def points(db: sqlite3.Connection, series: int, start: float, end: float) -> list[tuple[float, float]]:
    """(t, value) from full resolution and, before it, the hourly averages."""
    hourly = db.execute(
        "SELECT t, vavg FROM hourly WHERE series = ? AND t >= ? AND t < ? ORDER BY t",
        (series, int(start), int(end)),
    ).fetchall()
    raw = db.execute(
        "SELECT t, v FROM samples WHERE series = ? AND t >= ? AND t < ? ORDER BY t",
        (series, int(start), int(end)),
    ).fetchall()
    first_raw = raw[0][0] if raw else None
    out = [(float(t), v) for t, v in hourly if first_raw is None or t < first_raw]
    out.extend((float(t), v) for t, v in raw)
    return out


def state_history(
    db: sqlite3.Connection, host: str, check: str, start: float, end: float
) -> tuple[str | None, list[tuple[float, str]]]:
    """The hard state at `start` (None: unknown) and each hard-state row in [start, end)."""
    before = db.execute(
        "SELECT hard_state FROM state_changes WHERE host = ? AND check_name = ? AND at < ?"
        " ORDER BY at DESC LIMIT 1",
        (host, check, start),
    ).fetchone()
    rows = db.execute(
        "SELECT at, hard_state FROM state_changes WHERE host = ? AND check_name = ? AND at >= ? AND at < ?"
        " ORDER BY at",
        (host, check, start, end),
    ).fetchall()
    return (before[0] if before else None), [(float(a), s) for a, s in rows]


def maintenance_between(
    db: sqlite3.Connection, host: str, start: float, end: float
) -> list[tuple[float, float, str]]:
    return [
        (float(s), float(e), c)
        for s, e, c in db.execute(
            "SELECT start, end, checks FROM maintenance WHERE host = ? AND end > ? AND start < ?",
            (host, start, end),
        )
    ]
