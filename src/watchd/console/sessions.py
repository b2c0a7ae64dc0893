"""Console login sessions, held in memory and, given a sqlite3 connection, also in the table
`console_sessions`, so a console restart keeps everyone logged in.

Only a SHA-256 of the session id is kept (in memory and on disk): someone who can read the database
cannot take over a session with what they read. Each session has its own random CSRF token. The
connection is used from the event loop's thread; every write commits at once.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass

from watchd.console.authpolicy import Verdict, session_verdict

SCHEMA = """CREATE TABLE IF NOT EXISTS console_sessions (
    key TEXT PRIMARY KEY,           -- sha256 hex of the id in the cookie
    user TEXT NOT NULL,
    created REAL NOT NULL,          -- epoch seconds
    last_seen REAL NOT NULL,
    csrf TEXT NOT NULL
)"""


def session_key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(slots=True)
class Session:
    key: str
    user: str
    created: float
    last_seen: float
    csrf: str
    saved_seen: float  # last_seen as the database has it


class SessionStore:
    """`touch_every`: how stale the database's `last_seen` may get before a request writes it
    (saves a write per request; the idle timeout after a restart is off by at most this much)."""

    def __init__(self, db: sqlite3.Connection | None = None, touch_every: float = 60.0) -> None:
        self.db = db
        self.touch_every = touch_every
        self._mem: dict[str, Session] = {}
        if db is not None:
            with db:
                db.execute(SCHEMA)

    def create(self, user: str, now: float) -> tuple[str, Session]:
        """A new session: (the id for the cookie, the session)."""
        session_id = secrets.token_urlsafe(32)
        s = Session(session_key(session_id), user, now, now, secrets.token_urlsafe(32), now)
        self._mem[s.key] = s
        if self.db is not None:
            with self.db:
                self.db.execute(
                    "INSERT INTO console_sessions (key, user, created, last_seen, csrf) VALUES (?,?,?,?,?)",
                    (s.key, s.user, s.created, s.last_seen, s.csrf),
                )
        return session_id, s

    def get(self, session_id: str) -> Session | None:
        key = session_key(session_id)
        s = self._mem.get(key)
        if s is None and self.db is not None:
            row = self.db.execute(
                "SELECT user, created, last_seen, csrf FROM console_sessions WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                s = self._mem[key] = Session(key, str(row[0]), float(row[1]), float(row[2]), str(row[3]),
                                             float(row[2]))  # fmt: skip
        return s

    def touch(self, s: Session, now: float) -> None:
        s.last_seen = max(s.last_seen, now)
        if self.db is not None and s.last_seen - s.saved_seen >= self.touch_every:
            with self.db:
                self.db.execute(
                    "UPDATE console_sessions SET last_seen = ? WHERE key = ?", (s.last_seen, s.key)
                )
            s.saved_seen = s.last_seen

    def delete(self, s: Session) -> None:
        self._mem.pop(s.key, None)
        if self.db is not None:
            with self.db:
                self.db.execute("DELETE FROM console_sessions WHERE key = ?", (s.key,))

    def purge(self, now: float, idle_timeout: float, max_lifetime: float) -> None:
        """Forget sessions that have ended, so the table does not grow with every login."""
        for s in list(self._mem.values()):
            if session_verdict(s.created, s.last_seen, now, idle_timeout, max_lifetime) is not Verdict.VALID:
                del self._mem[s.key]
        if self.db is not None:
            with self.db:  # the margin: a live session's stored last_seen may lag by touch_every
                self.db.execute(
                    "DELETE FROM console_sessions WHERE created <= ? OR last_seen <= ?",
                    (now - max_lifetime, now - idle_timeout - self.touch_every),
                )

    def __len__(self) -> int:
        return len(self._mem)
