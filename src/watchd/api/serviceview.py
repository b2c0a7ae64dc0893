"""The service overview: each configured service's state, rolling availability, day bars, open
incidents and announced maintenance, computed from the store. Behind `/api/v1/services` (as JSON,
`view_dict`) and the status page (as HTML, statuspage.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from watchd.api.app import Api, iso
from watchd.config.api import ServiceConfig
from watchd.core import sla
from watchd.core.model import CheckStatus, State
from watchd.reports import availability as av
from watchd.reports.daybars import DayBar, day_bars

BAR_DAYS = 90
UPCOMING_DAYS = 14  # announced maintenance shown this far ahead
WINDOWS = (("24h", 1), ("7d", 7), ("30d", 30), ("90d", 90))  # rolling, ending now
MONTH = "month"  # the calendar month so far, in the display zone: the SLA report's period


@dataclass(slots=True)
class ServiceView:
    service: ServiceConfig
    state: str
    windows: dict[str, sla.Availability]
    days: list[DayBar] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    maintenance: list[dict[str, Any]] = field(default_factory=list)


def current_state(
    members: list[str],
    sts: dict[str, CheckStatus],
    in_maintenance: set[str],
    down_states: frozenset[State],
) -> str:
    """outage > degraded > maintenance > operational; 'no_data' before any member has run."""
    if not any(m in sts for m in members):
        return "no_data"
    live = [sts[m] for m in members if m in sts and m not in in_maintenance]
    if any(s.is_hard_problem and s.state in down_states for s in live):
        return "outage"
    if any(s.state is not State.OK for s in live):
        return "degraded"
    if any(m in in_maintenance for m in members):
        return "maintenance"
    return "operational"


def overview(api: Api, now: float, days: int = BAR_DAYS, only: str | None = None) -> list[ServiceView]:
    """Every service (or `only` one): state, rolling availability, day bars, incidents, maintenance."""
    daemon = api.daemon
    cfg = api.config
    checks = daemon.config.checks
    services = av.services_of(cfg, checks)
    if only is not None:
        services = {only: services[only]}
    db = daemon.store.db
    sts: dict[str, CheckStatus] = daemon.parts.state.statuses if daemon.parts is not None else {}
    bars = av.day_starts(now, days, cfg.timezone) if days else []
    month = av.month_period(av.current_month(now, cfg.timezone), cfg.timezone)
    start = min([now - BAR_DAYS * av.DAY] + [a for _, a, _ in bars])
    coverage = av.Coverage.load(db, start, now + UPCOMING_DAYS * av.DAY, api.windows)
    mon = av.monitored(db, start, now, now, live=True)
    tags = av.check_tags(checks)
    members = sorted({c for s in services.values() for c in s.checks})
    timelines = av.timelines(db, members, start, now + 1.0, coverage, tags)
    maint_now = {m for m in members if any(a <= now < b for a, b in timelines[m].excluded)}
    open_incidents = _open_incidents(db, members)
    out = []
    for svc in services.values():
        mine = {c: timelines[c] for c in svc.checks}
        acc = sla.service_accounting(mine, mon, start, now + 1.0, cfg.down_states)
        windows = {key: acc.account(now - n * av.DAY, now, now) for key, n in WINDOWS}
        windows[MONTH] = acc.account(month[0], month[1], now)
        out.append(
            ServiceView(
                service=svc,
                state=current_state(list(svc.checks), sts, maint_now, cfg.down_states),
                windows=windows,
                days=day_bars(acc, bars, now, svc.target),
                members=[
                    {
                        "name": m,
                        "title": getattr(checks.get(m), "description", "") or m,
                        "state": sts[m].state.name if m in sts else None,
                        "in_maintenance": m in maint_now,
                    }
                    for m in svc.checks
                ],
                incidents=[i for i in open_incidents if i["check"] in svc.checks],
                maintenance=_announced(coverage, svc, tags, now),
            )
        )
    return out


def _open_incidents(db: Any, members: list[str]) -> list[dict[str, Any]]:
    if not members:
        return []
    rows = db.execute(
        "SELECT id, check_name, priority, opened_at, acked_at FROM incidents WHERE status = 'open'"
        f" AND check_name IN ({','.join('?' * len(members))}) ORDER BY opened_at, id",
        members,
    ).fetchall()
    return [
        {"id": r[0], "check": r[1], "priority": r[2], "opened_at": r[3], "acknowledged": r[4] is not None}
        for r in rows
    ]


def _announced(
    coverage: av.Coverage, svc: ServiceConfig, tags: dict[str, tuple[str, ...]], now: float
) -> list[dict[str, Any]]:
    """Announced maintenance (active or upcoming) that covers a member of the service."""
    out = []
    for w in coverage.windows:
        if isinstance(w, tuple) or not getattr(w, "announce", False) or w.ends_at <= now:
            continue
        one = av.Coverage([w])
        if any(one.excluded(m, tags.get(m, ())) for m in svc.checks):
            out.append(
                {
                    "starts_at": w.starts_at,
                    "ends_at": w.ends_at,
                    "comment": getattr(w, "comment", ""),
                    "active": w.starts_at <= now < w.ends_at,
                }
            )
    return sorted(out, key=lambda m: m["starts_at"])


def view_dict(v: ServiceView, days: bool) -> dict[str, Any]:
    """The JSON form of a service view (`/api/v1/services`)."""
    d: dict[str, Any] = {
        "name": v.service.name,
        "title": v.service.title,
        "description": v.service.description,
        "target_percent": v.service.target,
        "state": v.state,
        "checks": v.members,
        "availability": {k: av.availability_dict(a, v.service.target) for k, a in v.windows.items()},
        "incidents": [{**i, "opened_at": iso(i["opened_at"])} for i in v.incidents],
        "maintenance": [
            {**m, "starts_at": iso(m["starts_at"]), "ends_at": iso(m["ends_at"])} for m in v.maintenance
        ],
    }
    if days:
        d["days"] = [
            {
                "date": b.date.isoformat(),
                "level": b.level,
                **av.availability_dict(b.availability),
            }
            for b in v.days
        ]
    return d


# -- HTML -------------------------------------------------------------------------------------------
