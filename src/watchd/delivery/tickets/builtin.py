"""The builtin ticket system: tickets in watchd's own SQLite store (`watchd incidents ...` shows them).

Exactly-once by construction: the ticket key is the primary key and every note is keyed by the
outbox row id, so a redelivery after a crash changes nothing.
"""

from __future__ import annotations

from watchd.delivery.tickets import TicketIntent
from watchd.store import Store


class BuiltinBackend:
    name = "builtin"

    def __init__(self, store: Store) -> None:
        self.store = store

    async def deliver(self, intent: TicketIntent, ref: str | None) -> str:
        with self.store.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO builtin_tickets (key, incident_id, status, subject, priority, host,"
                " check_name, opened_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (intent.key, intent.incident_id, "open", intent.subject, intent.priority, intent.host,
                 intent.check, intent.at, intent.at),
            )  # fmt: skip
            status = "resolved" if intent.kind == "resolve" else "open"
            db.execute(
                "UPDATE builtin_tickets SET status = ?, priority = ?, subject = ?, updated_at = ?,"
                " resolved_at = CASE WHEN ? = 'resolved' THEN ? ELSE NULL END WHERE key = ?",
                (status, intent.priority, intent.subject, intent.at, status, intent.at, intent.key),
            )
            db.execute(
                "INSERT OR IGNORE INTO builtin_ticket_notes (op_id, key, at, kind, body) VALUES (?,?,?,?,?)",
                (intent.op_id, intent.key, intent.at, intent.kind, intent.body),
            )
        return intent.key

    async def close(self) -> None:
        pass
