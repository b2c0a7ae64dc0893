"""What an incident action writes: the incident row, its timeline entry, and one outbox row per
channel, all on the caller's connection (so inside the caller's transaction).

    ticket:<backend>          a TicketIntent (open / update / resolve / reopen)
    notify:<contact>:<medium> a notification event (open, raised, ack, resolve, escalate, ...)
    digest:<contact>          held for the contact's daily digest (digest_items, not the outbox)

Follow-ups (ack, resolve) go to every channel that already heard about the incident, whatever the
configuration says now: a recovery always reaches whoever got the problem.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from watchd.core.model import CheckResult, Incident
from watchd.delivery import outbox
from watchd.delivery.tickets import TicketIntent
from watchd.delivery.tickets import text as ticket_text
from watchd.store import incidents as incident_store
from watchd.store import paging as paging_store

MAX_DETAIL = 2000


@dataclass(frozen=True, slots=True)
class OutRow:
    channel: str
    kind: str
    payload: dict[str, Any]


def ticket_rows(
    inc: Incident,
    action: str,
    why: str,
    result: CheckResult | None,
    now: float,
    backends: Iterable[str],
    priority_raised: bool = False,
) -> list[OutRow]:
    kind = action if action in ("open", "reopen", "resolve") else "update"
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
    return [OutRow(f"ticket:{b}", kind, payload) for b in backends]


def notify_rows(
    inc: Incident,
    event: str,
    why: str,
    result: CheckResult | None,
    now: float,
    channels: Iterable[str],
    description: str = "",
) -> list[OutRow]:
    detail = ""
    if result is not None:
        detail = "\n".join(x for x in (result.reason or "", result.long_output[:MAX_DETAIL]) if x)
    facts = {
        "key": inc.key, "host": inc.host, "check": inc.check, "description": description,
        "state": inc.state.name, "summary": inc.summary, "priority": inc.priority, "impact": inc.impact,
        "urgency": inc.urgency, "opened_at": inc.opened_at, "respond_by": inc.respond_by,
        "resolve_by": inc.resolve_by, "at": now, "acked_by": inc.acked_by, "why": why, "detail": detail,
    }  # fmt: skip
    payload = {"incident_id": inc.id, "queued_at": now, "facts": facts}
    return [OutRow(c, event, payload) for c in channels]


def contact_channels(contacts: Sequence[str], media: Mapping[str, Sequence[str]]) -> list[str]:
    """notify:<contact>:<medium> for every medium each contact has."""
    return [f"notify:{c}:{m}" for c in contacts for m in media.get(c, ())]


def heard_about(db: sqlite3.Connection, incident_id: int) -> list[str]:
    """Channels that already got something about this incident (pending rows included)."""
    rows = db.execute(
        "SELECT DISTINCT channel FROM outbox WHERE incident_id = ? ORDER BY channel", (incident_id,)
    )
    return [r[0] for r in rows]


def follow_up_rows(
    db: sqlite3.Connection, inc: Incident, action: str, why: str, result: CheckResult | None, now: float,
    notify: bool = True,
) -> list[OutRow]:  # fmt: skip
    """Rows for an ack/update/resolve: tickets that exist, and (if `notify`) people who were told."""
    channels = heard_about(db, inc.id)
    backends = [c.removeprefix("ticket:") for c in channels if c.startswith("ticket:")]
    rows = ticket_rows(inc, action, why, result, now, backends)
    if notify:
        people = [c for c in channels if c.startswith("notify:") and not _own_ack(c, action, inc.acked_by)]
        rows += notify_rows(inc, action, why, result, now, people, told_description(db, inc.id))
    return rows


SERVICES = ("pagerduty", "opsgenie")  # media that keep their own incident state: always told


def _own_ack(channel: str, action: str, acked_by: str | None) -> bool:
    """Whoever acknowledged is not told of their own ack (at night, an SMS saying what they just
    did), except in the services that must mirror it."""
    _, contact, medium = channel.split(":", 2)
    return action == "ack" and contact == acked_by and medium not in SERVICES


def told_description(db: sqlite3.Connection, incident_id: int) -> str:
    """The service name people were first told about, so follow-ups name it the same way (also from
    the CLI, which has no routing at hand)."""
    row = db.execute(
        "SELECT payload FROM outbox WHERE incident_id = ? AND channel LIKE 'notify:%' ORDER BY id LIMIT 1",
        (incident_id,),
    ).fetchone()
    return str(json.loads(row[0])["facts"].get("description", "")) if row else ""


def record(
    db: sqlite3.Connection, inc: Incident, action: str, why: str, rows: Sequence[OutRow], now: float
) -> None:
    incident_store.save(db, inc)
    incident_store.log_event(db, inc, action, why)
    enqueue(db, inc.id, rows, now)


def enqueue(db: sqlite3.Connection, incident_id: int, rows: Sequence[OutRow], now: float) -> None:
    for row in rows:
        contact = row.channel.removeprefix("digest:")
        if contact != row.channel:
            paging_store.hold(db, contact, incident_id, row.kind, row.payload, now)
        else:
            outbox.enqueue(db, incident_id, row.channel, row.kind, row.payload, now)
