"""The monthly SLA report of one customer, from the console's history: per service availability,
downtime, maintenance excluded and the verdict against the customer's `sla_target`, and the month's
incidents on the customer's hosts with their response and resolution against the deadlines they
carried (respond_by, resolve_by).

The report is for the customer: built without `internal`, it holds public names only (the customer's
name, its service names, incident numbers, priorities and times), so no rendering can leak a host,
check, plugin output or operator name; an incident is named by the services it touched. With
`internal` (for operators) it adds each service's members with their own figures, and each
incident's host, check, summary and who acknowledged it.

Renderings (text, JSON, CSV, a self-contained HTML page) are in reportformats.py. No PDF: no PDF
library is installed and none is light enough to add for this; print the HTML page to PDF.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from watchd.console import availability as ca
from watchd.console import config as console_config
from watchd.console import history
from watchd.console.config import Customer
from watchd.console.reportformats import FORMATS
from watchd.console.view import FleetView
from watchd.core import sla
from watchd.core.errors import ConfigError
from watchd.core.model import State
from watchd.reports import availability as av


@dataclass(frozen=True, slots=True)
class ServiceLine:
    name: str
    availability: sla.Availability
    members: tuple[tuple[str, sla.Availability], ...] = ()  # internal only: ("host:check", figures)


@dataclass(frozen=True, slots=True)
class InternalIncident:
    host: str
    check: str
    summary: str
    acked_by: str | None


@dataclass(frozen=True, slots=True)
class IncidentLine:
    id: int
    services: tuple[str, ...]  # public names; empty: none of the customer's services
    priority: str
    opened_at: float
    acked_at: float | None
    resolved_at: float | None
    respond_by: float | None
    resolve_by: float | None
    response: sla.TargetResult
    resolution: sla.TargetResult
    internal: InternalIncident | None = None

    @property
    def status(self) -> str:
        return "open" if self.resolved_at is None else "resolved"


@dataclass(frozen=True, slots=True)
class CustomerReport:
    customer_id: str
    customer: str  # the public name
    month: str
    start: float
    end: float
    now: float
    timezone: str
    target: float
    internal: bool
    down_states: frozenset[State]
    services: tuple[ServiceLine, ...]
    incidents: tuple[IncidentLine, ...]

    @property
    def complete(self) -> bool:
        return self.now >= self.end


# -- building ---------------------------------------------------------------------------------------


def build(
    db: sqlite3.Connection,
    customer: Customer,
    month: str,
    now: float,
    internal: bool = False,
    view: FleetView | None = None,
    down_states: frozenset[State] = sla.DEFAULT_DOWN_STATES,
) -> CustomerReport:
    """The report for `month` ("2026-11", in the customer's zone); ValueError for a bad month."""
    start, end = av.month_period(month, customer.timezone)
    known = ca.known_checks(db, view)
    services = []
    for svc in customer.services:
        members = [ca.member(db, h, c, start, end) for h, c in ca.members_of(svc, known)]
        a = ca.accounting(members, start, end, down_states).account(start, end, now)
        per_member = (
            tuple(
                (f"{m.host}:{m.check}", ca.accounting([m], start, end, down_states).account(start, end, now))
                for m in members
            )
            if internal
            else ()
        )
        services.append(ServiceLine(svc.name, a, per_member))
    return CustomerReport(
        customer_id=customer.id,
        customer=customer.name,
        month=month,
        start=start,
        end=end,
        now=now,
        timezone=customer.timezone,
        target=customer.sla_target,
        internal=internal,
        down_states=down_states,
        services=tuple(services),
        incidents=tuple(incidents(db, customer, start, end, now, internal)),
    )


def incidents(
    db: sqlite3.Connection, customer: Customer, start: float, end: float, now: float, internal: bool
) -> list[IncidentLine]:
    """Incidents on the customer's hosts open at some point in [start, end), oldest first (none opened
    after `now`: a report on a past `now` shows what was known then)."""
    rows = db.execute(
        "SELECT host, id, check_name, priority, summary, opened_at, resolved_at, acked_at, acked_by, doc"
        " FROM incidents WHERE opened_at IS NOT NULL AND opened_at < ?"
        " AND (resolved_at IS NULL OR resolved_at >= ?) ORDER BY opened_at, host, id",
        (min(end, now), start),
    ).fetchall()
    out = []
    for host, iid, check, priority, summary, opened, resolved, acked, acked_by, doc in rows:
        if not customer.owns(host):
            continue
        facts = _doc(doc)
        respond_by, resolve_by = _time(facts.get("respond_by")), _time(facts.get("resolve_by"))
        answered = min((t for t in (acked, resolved) if t is not None), default=None)
        out.append(
            IncidentLine(
                id=int(iid),
                services=tuple(s.name for s in customer.services if s.covers(host, check)),
                priority=priority,
                opened_at=opened,
                acked_at=acked,
                resolved_at=resolved,
                respond_by=respond_by,
                resolve_by=resolve_by,
                response=sla.by_deadline(opened, respond_by, answered, now),
                resolution=sla.by_deadline(opened, resolve_by, resolved, now),
                internal=InternalIncident(host, check, summary, acked_by) if internal else None,
            )
        )
    return out


def _doc(text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _time(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and v == v else None


# -- command line -----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="watchd console report",
        description="A customer's monthly SLA report from the console's history.",
    )
    p.add_argument("--config", required=True, help="the console's config file")
    p.add_argument("--customer", required=True, help="a customer id (a key under `customers:`)")
    p.add_argument("--month", help="YYYY-MM in the customer's timezone (default: the current month)")
    p.add_argument("--format", choices=sorted(FORMATS), default="text")
    p.add_argument(
        "--internal",
        action="store_true",
        help="also host and check names and incident summaries: for operators, not for the customer",
    )
    return p


def report_main(argv: Sequence[str] | None = None, now: Callable[[], float] = time.time) -> int:
    """`watchd console report ...`: the report on stdout; 2 for bad input, 1 for an unreadable history."""
    args = _parser().parse_args(argv)
    name = "watchd console report"
    try:
        cfg = console_config.load(args.config)
    except ConfigError as exc:
        print(f"{name}: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    customer = cfg.customers.get(args.customer)
    if customer is None:
        known = ", ".join(sorted(cfg.customers)) or "none"
        msg = f"{name}: no customer {args.customer!r} in {args.config} (configured: {known})"
        print(msg, file=sys.stderr)
        return 2
    t = now()
    month = args.month or av.current_month(t, customer.timezone)
    try:
        av.month_period(month, customer.timezone)
    except ValueError as exc:
        print(f"{name}: --month: {exc}", file=sys.stderr)
        return 2
    if not os.path.exists(cfg.database):
        print(
            f"{name}: no history yet: {cfg.database} does not exist (is `watchd console` running with"
            f" {args.config}?)",
            file=sys.stderr,
        )
        return 2
    try:
        db = history.connect(cfg.database)
        try:
            rep = build(db, customer, month, t, internal=args.internal)
        finally:
            db.close()
    except sqlite3.Error as exc:
        print(f"{name}: cannot read the history {cfg.database}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(FORMATS[args.format](rep))
    return 0
