"""A customer's status page: their services under their public names, in plain words.

What a customer may see is decided here, once: service names from the console config, states as words,
incidents as "investigating"/"identified" with their start time, announced maintenance. Never host or
check names, plugin output, command lines, ticket numbers or other customers' anything: the page model
holds only public fields, so a template cannot leak what it was never given.
"""

from __future__ import annotations

import fnmatch
import sqlite3
from dataclasses import dataclass
from typing import Any

from watchd.console.config import Customer, Service
from watchd.console.view import FleetView
from watchd.reports.daybars import DayBar, bar_title

STATE_WORDS = {
    "operational": "Operational",
    "degraded": "Degraded performance",
    "outage": "Outage",
    "maintenance": "Under maintenance",
    "no_data": "No data yet",
}


@dataclass(frozen=True, slots=True)
class PublicIncident:
    service: str
    words: str  # "Investigating" / "Identified, being worked on"
    since: float


@dataclass(frozen=True, slots=True)
class PublicMaintenance:
    services: tuple[str, ...]
    start: float
    end: float
    note: str  # only an announced window's comment (written for customers)


@dataclass(frozen=True, slots=True)
class Bar:
    level: str  # ok, minor, major, maintenance, nodata
    title: str  # "2026-11-03 · 99.95 % available · 0.7 min down"


@dataclass(frozen=True, slots=True)
class PublicService:
    name: str
    state: str
    words: str
    days: tuple[Bar, ...]  # oldest first, ending with today
    availability: float | None  # ratio over the bars' period


@dataclass(frozen=True, slots=True)
class CustomerPage:
    name: str
    overall: str
    services: tuple[PublicService, ...]
    incidents: tuple[PublicIncident, ...]
    maintenance: tuple[PublicMaintenance, ...]
    updated: float
    timezone: str


def service_state(view: FleetView, service: Service, now: float) -> str:
    states, maint, seen = [], False, False
    for h in view:
        for c in h.checks.values():
            if not service.covers(h.name, c.name):
                continue
            seen = True
            if h.in_maintenance(now, c.name) is not None:
                maint = True
                continue
            states.append(c.hard_state)
    if not seen:
        return "no_data"
    if "CRITICAL" in states:
        return "outage"
    if any(s != "OK" for s in states):
        return "degraded"
    return "maintenance" if maint else "operational"


def build(
    view: FleetView, db: sqlite3.Connection, customer: Customer, now: float, days: int = 90
) -> CustomerPage:
    from watchd.console import availability

    bars = availability.uptime_days(db, customer, now, days, view)
    services, incidents = [], []
    maint: dict[tuple[float, float, str], list[str]] = {}
    for s in customer.services:
        state = service_state(view, s, now)
        day_bars = bars.get(s.name, [])
        public = tuple(Bar(b.level, bar_title(b)) for b in day_bars)
        services.append(PublicService(s.name, state, STATE_WORDS[state], public, _ratio(day_bars)))
        for h in view:
            for iid in sorted(h.incidents):
                doc = h.incidents[iid]
                if not s.covers(h.name, str(doc.get("check") or "")) or doc.get("suppressed_by"):
                    continue
                opened = _float(doc.get("opened_at"))
                words = "Identified, being worked on" if doc.get("acked_at") else "Investigating"
                incidents.append(PublicIncident(s.name, words, opened if opened is not None else now))
            for w in h.maintenance:
                start, end = _float(w.get("start")), _float(w.get("end"))
                if start is None or end is None or end <= now or not _covers_window(s, h.name, w):
                    continue
                note = str(w.get("comment") or "") if w.get("announce") is True else ""
                names = maint.setdefault((start, end, note), [])
                if s.name not in names:
                    names.append(s.name)
    order = ("outage", "degraded", "maintenance", "operational", "no_data")
    overall = min((p.state for p in services), key=order.index, default="no_data")
    return CustomerPage(
        name=customer.name,
        overall=overall,
        services=tuple(services),
        incidents=tuple(_dedupe(incidents)),
        maintenance=tuple(
            PublicMaintenance(tuple(n), a, b, note) for (a, b, note), n in sorted(maint.items())
        ),
        updated=now,
        timezone=customer.timezone,
    )


def _covers_window(s: Service, host: str, w: dict[str, Any]) -> bool:
    """A window over the whole host touches every service with a member on it."""
    checks = w.get("checks")
    if not checks:
        return any(fnmatch.fnmatchcase(host, h) for h, _ in s.members)
    return isinstance(checks, list) and any(s.covers(host, str(c)) for c in checks)


def _dedupe(items: list[PublicIncident]) -> list[PublicIncident]:
    """One line per service: three failing members are one incident to the customer."""
    first: dict[str, PublicIncident] = {}
    for i in items:
        known = first.get(i.service)
        if known is None or i.since < known.since:
            first[i.service] = i
    return sorted(first.values(), key=lambda i: i.since)


def _float(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _ratio(bars: list[DayBar]) -> float | None:
    """Availability over all the bars' measured time (not the mean of the days' percentages)."""
    measured = sum(b.availability.measured_s for b in bars)
    down = sum(b.availability.down_s for b in bars)
    return (measured - down) / measured if measured else None
