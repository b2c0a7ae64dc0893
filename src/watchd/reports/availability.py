"""Reads the inputs of `watchd.sla` from the store and builds SLA reports (CLI, API, status page).

- Hard-state timelines come from `state_log` (rows with state_type HARD carry the hard state).
- Monitored time is the union of `daemon_runs` (started_at .. stopped_at, or last_seen if it died);
  with `live=True` (inside the running daemon) the newest open run reaches `now`.
- Maintenance is the one-off `downtimes` (a removed one ends when it was removed) plus whatever an
  optional `windows(start, end)` callable returns (recurring windows from the config), as
  `(start, end, scope, target)` tuples or objects with `starts_at`, `ends_at` and `scope.covers()`.

Downtime scopes: `host` covers every check (one daemon per host), `check` a check name and `tag` a
tag (exact names, as the suppression policy matches them).

About 410 lines: every store read behind a report, and the report's one shape; the renderings are in
formats.py, the arithmetic in core/sla.py.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from watchd.config.api import ApiConfig, ServiceConfig
from watchd.core import sla
from watchd.core.model import State
from watchd.core.priority import PriorityPolicy

WindowSource = Callable[[float, float], Iterable[Any]]
DAY = 86400.0


# -- maintenance windows ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    starts_at: float
    ends_at: float
    scope: str  # host | check | tag
    target: str
    id: int | None = None
    comment: str = ""
    announce: bool = False
    created_by: str = ""

    def covers(self, check: str, tags: Iterable[str]) -> bool:
        if self.scope == "host":
            return True
        if self.scope == "check":
            return check == self.target
        if self.scope == "tag":
            return self.target in tags
        return False


def downtimes(db: sqlite3.Connection, start: float, end: float) -> list[Window]:
    """One-off downtimes overlapping [start, end); a removed one ends when it was removed."""
    rows = db.execute(
        "SELECT id, scope, target, starts_at, ends_at, removed_at, comment, announce, created_by"
        " FROM downtimes WHERE starts_at < ? AND min(ends_at, coalesce(removed_at, ends_at)) > ?"
        " ORDER BY starts_at, id",
        (end, start),
    ).fetchall()
    out = []
    for i, scope, target, a, b, removed, comment, announce, by in rows:
        b = min(b, removed) if removed is not None else b
        if b > a:
            out.append(Window(a, b, scope, target, i, comment, bool(announce), by))
    return out


def recurring_windows(get_config: Callable[[], Any]) -> WindowSource:
    """The config's recurring maintenance windows (`maintenance.windows`) as a WindowSource; the
    config is read at each call, so a reload applies."""

    def windows(start: float, end: float) -> list[Any]:
        recurring = getattr(getattr(get_config(), "maintenance", None), "windows", ())
        if not recurring:
            return []
        from watchd.core.maintenance import windows_between

        return list(windows_between(recurring, [], start, end))

    return windows


class Coverage:
    """Which maintenance covers which check, for one span of time."""

    def __init__(self, windows: Sequence[Any]) -> None:
        self.windows = list(windows)

    @classmethod
    def load(
        cls, db: sqlite3.Connection, start: float, end: float, extra: WindowSource | None = None
    ) -> Coverage:
        windows: list[Any] = list(downtimes(db, start, end))
        if extra is not None:
            windows += list(extra(start, end))
        return cls(windows)

    def excluded(self, check: str, tags: Iterable[str]) -> list[sla.Interval]:
        tags = tuple(tags)
        out = []
        for w in self.windows:
            if isinstance(w, tuple):
                a, b, scope, target = w[:4]
                w = Window(a, b, scope, target)
            if hasattr(w, "scope") and not isinstance(w.scope, str):  # maintenance.Window
                covered = w.scope.covers(check, tags)
            else:
                covered = w.covers(check, tags)
            if covered:
                out.append((float(w.starts_at), float(w.ends_at)))
        return sla.normalize(out)


# -- timelines and monitored time -------------------------------------------------------------------


def monitored(
    db: sqlite3.Connection, start: float, end: float, now: float, live: bool = False
) -> list[sla.Interval]:
    """When the daemon was running. With `live` (asked from inside the running daemon), the run
    that started last among those not stopped is this one, and it reaches `now`."""
    rows = db.execute(
        "SELECT started_at, coalesce(stopped_at, last_seen), stopped_at IS NULL FROM daemon_runs"
        " WHERE started_at < ? ORDER BY started_at",
        (end,),
    ).fetchall()
    current = max((a for a, _, open_ in rows if open_), default=None) if live else None
    out = []
    for a, b, open_ in rows:
        if open_ and a == current:
            b = max(b, now)
        if b > start:
            out.append((a, b))
    return sla.normalize(out)


def timelines(
    db: sqlite3.Connection,
    checks: Sequence[str],
    start: float,
    end: float,
    coverage: Coverage,
    tags: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, sla.CheckTimeline]:
    """Each check's hard-state transitions in [start, end) and its state before `start`."""
    out: dict[str, sla.CheckTimeline] = {}
    for check in checks:
        row = db.execute(
            "SELECT state FROM state_log WHERE check_name = ? AND state_type = 'HARD' AND at < ?"
            " ORDER BY at DESC, id DESC LIMIT 1",
            (check, start),
        ).fetchone()
        rows = db.execute(
            "SELECT at, state FROM state_log WHERE check_name = ? AND state_type = 'HARD'"
            " AND at >= ? AND at < ? ORDER BY at, id",
            (check, start, end),
        ).fetchall()
        out[check] = sla.CheckTimeline(
            transitions=[(float(at), State(s)) for at, s in rows],
            initial=State(row[0]) if row else State.OK,
            excluded=coverage.excluded(check, (tags or {}).get(check, ())),
        )
    return out


# -- periods ----------------------------------------------------------------------------------------


def month_period(month: str, timezone: str) -> tuple[float, float]:
    """ "2026-11" -> [Nov 1 00:00, Dec 1 00:00) local time in `timezone`, as UTC epoch seconds."""
    try:
        year, mon = (int(x) for x in month.split("-"))
        first = dt.date(year, mon, 1)
    except ValueError:
        raise ValueError(f"expected a month like 2026-11, not {month!r}") from None
    if not 2000 <= year <= 2099:  # timespec's range; 9999-12 would end in a year no date can hold
        raise ValueError(f"expected a month between 2000-01 and 2099-12, not {month!r}")
    zone = ZoneInfo(timezone)
    days = calendar.monthrange(year, mon)[1]
    nxt = first + dt.timedelta(days=days)
    return (
        dt.datetime.combine(first, dt.time(), tzinfo=zone).timestamp(),
        dt.datetime.combine(nxt, dt.time(), tzinfo=zone).timestamp(),
    )


def current_month(now: float, timezone: str) -> str:
    return dt.datetime.fromtimestamp(now, ZoneInfo(timezone)).strftime("%Y-%m")


def day_starts(now: float, days: int, timezone: str) -> list[tuple[dt.date, float, float]]:
    """The last `days` local days ending with today: (date, start, end) with real day lengths (DST)."""
    zone = ZoneInfo(timezone)
    today = dt.datetime.fromtimestamp(now, zone).date()
    out = []
    for k in range(days - 1, -1, -1):
        d = today - dt.timedelta(days=k)
        a = dt.datetime.combine(d, dt.time(), tzinfo=zone).timestamp()
        b = dt.datetime.combine(d + dt.timedelta(days=1), dt.time(), tzinfo=zone).timestamp()
        out.append((d, a, b))
    return out


# -- services ---------------------------------------------------------------------------------------


def services_of(api: ApiConfig, checks: Mapping[str, Any]) -> dict[str, ServiceConfig]:
    """The configured services; without any, every configured check is a service of its own."""
    if api.services:
        return dict(api.services)
    return {
        name: ServiceConfig(name, getattr(c, "description", "") or name, (name,))
        for name, c in sorted(checks.items())
        if getattr(c, "enabled", True)
    }


def check_tags(checks: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    return {name: tuple(getattr(c, "tags", ())) for name, c in checks.items()}


# -- reports ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentLine:
    times: sla.IncidentTimes
    status: str
    summary: str
    response: sla.TargetResult
    resolution: sla.TargetResult


@dataclass(frozen=True, slots=True)
class ServiceReport:
    service: ServiceConfig
    availability: sla.Availability
    checks: dict[str, sla.Availability]
    incidents: list[IncidentLine] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Report:
    start: float
    end: float
    now: float
    timezone: str
    label: str  # "2026-11" or "2026-11-01..2026-11-30"
    down_states: frozenset[State]
    services: list[ServiceReport]


def incidents_between(
    db: sqlite3.Connection, checks: Sequence[str], start: float, end: float
) -> list[tuple[sla.IncidentTimes, str, str]]:
    """Incidents of these checks that were open at some point in [start, end)."""
    if not checks:
        return []
    marks = ",".join("?" * len(checks))
    rows = db.execute(
        "SELECT id, check_name, priority, opened_at, acked_at, resolved_at, response_breached_at,"
        f" resolution_breached_at, status, summary FROM incidents WHERE check_name IN ({marks})"
        " AND opened_at < ? AND (resolved_at IS NULL OR resolved_at >= ?) ORDER BY opened_at, id",
        (*checks, end, start),
    ).fetchall()
    return [(sla.IncidentTimes(*r[:8]), r[8], r[9]) for r in rows]


def build_report(
    db: sqlite3.Connection,
    api: ApiConfig,
    checks: Mapping[str, Any],
    policy: PriorityPolicy,
    start: float,
    end: float,
    now: float,
    label: str,
    services: Sequence[ServiceConfig] | None = None,
    windows: WindowSource | None = None,
    live: bool = False,
) -> Report:
    chosen = list(services) if services is not None else list(services_of(api, checks).values())
    coverage = Coverage.load(db, start, end, windows)
    mon = monitored(db, start, end, now, live)
    tags = check_tags(checks)
    members = sorted({c for s in chosen for c in s.checks})
    tl = timelines(db, members, start, end, coverage, tags)
    out = []
    for svc in chosen:
        mine = {c: tl[c] for c in svc.checks}
        per_check = {
            c: sla.check_availability(t, mon, start, end, now, api.down_states) for c, t in mine.items()
        }
        incidents = [
            IncidentLine(t, status, summary, sla.response(t, policy, now), sla.resolution(t, policy, now))
            for t, status, summary in incidents_between(db, svc.checks, start, end)
        ]
        out.append(
            ServiceReport(
                svc,
                sla.service_availability(mine, mon, start, end, now, api.down_states),
                per_check,
                incidents,
            )
        )
    return Report(start, end, now, api.timezone, label, api.down_states, out)


def iso(t: float | None) -> str | None:
    """UTC ISO 8601 with seconds, e.g. 2026-11-23T10:00:00Z; None for no time (None or 0)."""
    if t is None or t <= 0:
        return None
    return _iso(t)


@functools.lru_cache(maxsize=16384)  # the same few thousand instants are listed again and again
def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _minutes(s: float | None) -> float | None:
    return None if s is None else round(s / 60.0, 2)


def _percent(r: float | None) -> float | None:
    return None if r is None else round(r * 100.0, 4)


FINAL = {sla.Verdict.MET: True, sla.Verdict.MISSED: False}


def availability_dict(a: sla.Availability, target: float | None = None) -> dict[str, Any]:
    """The figures of one window [from, until); with a target, its verdict (`met` is true or false
    only once decided: met at the end, or missed; null while on track or at risk)."""
    d: dict[str, Any] = {
        "from": iso(a.start),
        "until": iso(a.until),
        "measured_minutes": _minutes(a.measured_s),
        "availability_percent": _percent(a.availability),
        "availability_min_percent": _percent(a.availability_min),
        "downtime_minutes": _minutes(a.down_s),
        "maintenance_minutes": _minutes(a.excluded_s),
        "unknown_minutes": _minutes(a.unknown_s),
        "elapsed_minutes": _minutes(a.elapsed_s),
        "agreed_minutes": _minutes(a.agreed_s),
    }
    if target is not None:
        d.update(
            target_percent=target,
            allowed_downtime_minutes=_minutes(a.allowed_down_s(target)),
            error_budget_left_minutes=_minutes(a.budget_left_s(target)),
            verdict=a.verdict(target).value,
            met=FINAL.get(a.verdict(target)),
        )
    return d


def target_dict(t: sla.TargetResult) -> dict[str, Any]:
    return {
        "status": t.status.value,
        "minutes": _minutes(t.taken_s),
        "target_minutes": _minutes(t.target_s),
        "clock": t.clock,
    }


def report_dict(rep: Report) -> dict[str, Any]:
    """The JSON form (`watchd sla report --format json`, `GET /api/v1/sla/report`)."""
    return {
        "period": {
            "label": rep.label,
            "start": iso(rep.start),
            "end": iso(rep.end),
            "timezone": rep.timezone,
            "complete": rep.now >= rep.end,
        },
        "generated_at": iso(rep.now),
        "down_states": sorted(s.name for s in rep.down_states),
        "services": [
            {
                "name": s.service.name,
                "title": s.service.title,
                "checks": list(s.service.checks),
                **availability_dict(s.availability, s.service.target),
                "outages": [
                    {"start": iso(a), "end": iso(b), "minutes": _minutes(b - a)}
                    for a, b in s.availability.outages
                ],
                "check_availability": {c: availability_dict(a) for c, a in s.checks.items()},
                "incidents": [
                    {
                        "id": i.times.id,
                        "check": i.times.check,
                        "priority": i.times.priority,
                        "status": i.status,
                        "summary": i.summary,
                        "opened_at": iso(i.times.opened_at),
                        "acked_at": iso(i.times.acked_at),
                        "resolved_at": iso(i.times.resolved_at),
                        "response": target_dict(i.response),
                        "resolution": target_dict(i.resolution),
                    }
                    for i in s.incidents
                ],
            }
            for s in rep.services
        ],
    }
