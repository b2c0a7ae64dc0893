"""Paging state: used ack/resolve link nonces (`link_uses`) and digest items held for a contact's
next digest (`digest_items`). Functions over a connection, so they join the caller's transaction."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any


def use_link(
    db: sqlite3.Connection, nonce: str, incident_id: int, action: str, contact: str, now: float
) -> bool:
    """Record a link as used; False when it was used before (a replay)."""
    cur = db.execute(
        "INSERT OR IGNORE INTO link_uses (nonce, incident_id, action, contact, used_at) VALUES (?,?,?,?,?)",
        (nonce, incident_id, action, contact, now),
    )
    return cur.rowcount == 1


@dataclass(frozen=True, slots=True)
class DigestItem:
    id: int
    incident_id: int
    event: str
    payload: dict[str, Any]  # the notification row it stands for
    created_at: float


def hold(
    db: sqlite3.Connection, contact: str, incident_id: int, event: str, payload: dict[str, Any], now: float
) -> None:
    db.execute(
        "INSERT INTO digest_items (contact, incident_id, event, facts, created_at) VALUES (?,?,?,?,?)",
        (contact, incident_id, event, json.dumps(payload), now),
    )


def held(db: sqlite3.Connection, contact: str) -> list[DigestItem]:
    rows = db.execute(
        "SELECT id, incident_id, event, facts, created_at FROM digest_items"
        " WHERE contact = ? AND sent_at IS NULL ORDER BY id",
        (contact,),
    )
    return [DigestItem(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]


def mark_sent(db: sqlite3.Connection, ids: list[int], now: float) -> None:
    db.executemany(
        "UPDATE digest_items SET sent_at = ? WHERE id = ? AND sent_at IS NULL", [(now, i) for i in ids]
    )
