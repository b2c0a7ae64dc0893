"""What an incident action writes: the incident row, its timeline entry and one outbox row per
ticket channel, all with the caller's connection (so inside the caller's transaction)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from watchd import incident_store, outbox, ticket_text
from watchd.model import CheckResult, Incident
from watchd.tickets import TicketIntent


def ticket_payload(
    inc: Incident,
    action: str,
    why: str,
    result: CheckResult | None,
    now: float,
    priority_raised: bool = False,
) -> dict[str, Any]:
    """The ticket intent for an action, as stored in the outbox (the row id becomes its op_id)."""
    kind = "update" if action not in ("open", "reopen", "resolve") else action
    payload = TicketIntent(
        kind=kind,  # type: ignore[arg-type]
        key=inc.key,
        incident_id=inc.id,
        op_id=0,
        host=inc.host,
        check=inc.check,
        priority=inc.priority,
        state=inc.state.name,
        subject=ticket_text.subject(inc),
        body=ticket_text.body(inc, action, why, result),
        at=now,
        respond_by=inc.respond_by,
        resolve_by=inc.resolve_by,
        fields={
            "action": action,
            "impact": inc.impact,
            "urgency": inc.urgency,
            "flapping": inc.flapping,
            "priority_raised": priority_raised,
            "acked_by": inc.acked_by,
            "reason": why,
        },
    ).to_json()
    del payload["op_id"]
    return payload


def record(
    db: sqlite3.Connection,
    inc: Incident,
    action: str,
    why: str,
    channels: Sequence[str],
    payload: dict[str, Any],
    now: float,
) -> None:
    incident_store.save(db, inc)
    incident_store.log_event(db, inc, action, why)
    for channel in channels:
        outbox.enqueue(db, inc.id, channel, payload["kind"], payload, now)


def incident_channels(db: sqlite3.Connection, incident_id: int) -> list[str]:
    """The channels an incident has already been sent to (where an ack or resolve must follow)."""
    rows = db.execute(
        "SELECT DISTINCT channel FROM outbox WHERE incident_id = ? ORDER BY channel", (incident_id,)
    )
    return [r[0] for r in rows]
