"""Customer service availability from the console's history: the same arithmetic as the daemon's SLA
report (core/sla.py), over the fleet instead of one host.

A customer service (config.Service) is a public name over (host glob, check glob) members; they
resolve against the (host, check) pairs the history knows (`state_changes`, `series`) and, if given,
the live view. Per member:

- **down** while its hard state is a down state: CRITICAL and UNKNOWN, as sla.DEFAULT_DOWN_STATES
  (UNKNOWN means the check could not tell, and the daemon's report counts it as down too; WARNING
  is degraded but up). Soft states do not count.
- **excluded** while a maintenance window the host announced covers the check (a `maintenance` row
  with no checks covers the whole host).
- **monitored** from the first state the console recorded for it (the `at` of a retained state is
  the host's last change, so a check that was OK for a month before the console started counts from
  then), except while its host was offline or removed (`host_events`). Before that it is not
  measured, never up. A host that was lost (its last will) is "not monitored", not down: the
  report shows that time apart, and availability_min is the floor as if it had all been down.

The service is down while any member is down outside its own maintenance, excluded while every
member is in maintenance, and measured while every member is either monitored or in maintenance, or
while a monitored member is down (then the others cannot make it up). What the history cannot
know: changes while the console itself was away are seen only as the state the host retains when
it comes back (the latest, with its time).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from watchd.console import history
from watchd.console.config import Customer, Service
from watchd.console.view import FleetView
from watchd.core import sla
from watchd.core.model import State
from watchd.reports import availability as av
from watchd.reports.daybars import DayBar, day_bars

Pair = tuple[str, str]  # (host, check)


@dataclass(frozen=True, slots=True)
class Member:
    """One (host, check) of a service over a span: what sla needs, plus when it was monitored."""

    host: str
    check: str
    timeline: sla.CheckTimeline
    monitored: Sequence[sla.Interval]


def known_checks(db: sqlite3.Connection, view: FleetView | None = None) -> list[Pair]:
    """Every (host, check) the history or the live view knows, sorted."""
    rows = db.execute(
        "SELECT DISTINCT host, check_name FROM state_changes"
        " UNION SELECT DISTINCT host, check_name FROM series"
    ).fetchall()
    pairs = {(str(h), str(c)) for h, c in rows}
    if view is not None:
        pairs.update((h.name, c) for h in view for c in h.checks)
    return sorted(pairs)


def members_of(service: Service, known: Iterable[Pair]) -> list[Pair]:
    return [(h, c) for h, c in known if service.covers(h, c)]


def offline(db: sqlite3.Connection, host: str, end: float) -> list[sla.Interval]:
    """When the host was offline or removed, up to `end` (before its first status: online)."""
    rows = db.execute(
        "SELECT at, online FROM host_events WHERE host = ? AND at < ? ORDER BY at, rowid", (host, end)
    ).fetchall()
    out: list[sla.Interval] = []
    since: float | None = None
    for at, online in rows:
        if online == 1:
            if since is not None:
                out.append((since, float(at)))
                since = None
        elif since is None:
            since = float(at)
    if since is not None:
        out.append((since, end))
    return sla.normalize(out)


def maintenance(
    db: sqlite3.Connection, host: str, check: str, start: float, end: float
) -> list[sla.Interval]:
    """The host's maintenance windows covering `check` within [start, end)."""
    return sla.clip(
        (
            (a, b)
            for a, b, checks in history.maintenance_between(db, host, start, end)
            if not checks or check in checks.split(",")
        ),
        start,
        end,
    )


def _state(name: str | None) -> State | None:
    return State.__members__.get(name) if name else None


def member(db: sqlite3.Connection, host: str, check: str, start: float, end: float) -> Member:
    before, rows = history.state_history(db, host, check, start, end)
    transitions = [(at, st) for at, s in rows if (st := _state(s)) is not None]
    first = db.execute(
        "SELECT min(at) FROM state_changes WHERE host = ? AND check_name = ?", (host, check)
    ).fetchone()[0]
    if first is None or first >= end:
        mon: list[sla.Interval] = []
    else:
        mon = sla.subtract([(max(start, float(first)), end)], offline(db, host, end))
    return Member(
        host,
        check,
        sla.CheckTimeline(transitions, _state(before) or State.OK, maintenance(db, host, check, start, end)),
        mon,
    )


def accounting(
    members: Sequence[Member],
    start: float,
    end: float,
    down_states: frozenset[State] = sla.DEFAULT_DOWN_STATES,
) -> sla.Accounting:
    """The service's down, maintenance and measured time over [start, end) (module docstring)."""
    if not members:
        return sla.Accounting.of((), (), ())
    downs = []
    for m in members:
        t = m.timeline
        own = sla.down_intervals(t.transitions, start, end, down_states, t.initial)
        downs.append(sla.intersect(sla.subtract(own, t.excluded), m.monitored))
    down = sla.union(*downs)
    excluded = sla.intersect_all([m.timeline.excluded for m in members])
    # A member in maintenance has no say, so it does not make the service unmeasured.
    known = sla.intersect_all([sla.union(m.monitored, m.timeline.excluded) for m in members])
    return sla.Accounting.of(down, excluded, sla.union(known, down))


def service_accounting(
    db: sqlite3.Connection,
    service: Service,
    start: float,
    end: float,
    known: Iterable[Pair] | None = None,
    view: FleetView | None = None,
    down_states: frozenset[State] = sla.DEFAULT_DOWN_STATES,
) -> tuple[list[Pair], sla.Accounting]:
    """The members found and the service's accounting for periods within [start, end)."""
    pairs = members_of(service, known_checks(db, view) if known is None else known)
    members = [member(db, h, c, start, end) for h, c in pairs]
    return pairs, accounting(members, start, end, down_states)


def service_availability(
    db: sqlite3.Connection,
    service: Service,
    start: float,
    end: float,
    now: float,
    known: Iterable[Pair] | None = None,
    view: FleetView | None = None,
    down_states: frozenset[State] = sla.DEFAULT_DOWN_STATES,
) -> sla.Availability:
    _, acc = service_accounting(db, service, start, end, known, view, down_states)
    return acc.account(start, end, now)


def uptime_days(
    db: sqlite3.Connection,
    customer: Customer,
    now: float,
    days: int = 90,
    view: FleetView | None = None,
    down_states: frozenset[State] = sla.DEFAULT_DOWN_STATES,
) -> dict[str, list[DayBar]]:
    """Per service (in config order), one bar per local day in the customer's zone, oldest first,
    ending with today (so far)."""
    bars = av.day_starts(now, days, customer.timezone)
    if not bars:
        return {s.name: [] for s in customer.services}
    start, end = bars[0][1], bars[-1][2]
    known = known_checks(db, view)
    out = {}
    for svc in customer.services:
        _, acc = service_accounting(db, svc, start, end, known, down_states=down_states)
        out[svc.name] = day_bars(acc, bars, now, customer.sla_target)
    return out
