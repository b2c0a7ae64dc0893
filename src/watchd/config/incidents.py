"""The `incidents` and `tickets` sections."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from watchd.configkit import reader as r
from watchd.core.businesshours import BusinessCalendar, parse_hours
from watchd.core.errors import ParamError
from watchd.core.model import State
from watchd.core.priority import DEFAULT_MATRIX, DEFAULT_TARGETS, LEVELS, PRIORITIES, PriorityPolicy, Target

level = r.one_of(*LEVELS)

# type -> "module:Class" with a `from_config(params)` classmethod; imported only when used.
TICKET_TYPES = {
    "rt": "watchd.delivery.tickets.rt:RTBackend",
    "webhook": "watchd.delivery.tickets.webhook:WebhookBackend",
    "email": "watchd.delivery.tickets.email:EmailBackend",
    "redmine": "watchd.delivery.tickets.redmine:RedmineBackend",
    "zammad": "watchd.delivery.tickets.zammad:ZammadBackend",
    "jira": "watchd.delivery.tickets.jira:JiraBackend",
    "glpi": "watchd.delivery.tickets.glpi:GlpiBackend",
    "znuny": "watchd.delivery.tickets.znuny:ZnunyBackend",
    "zendesk": "watchd.delivery.tickets.zendesk:ZendeskBackend",
    "freshdesk": "watchd.delivery.tickets.freshdesk:FreshdeskBackend",
}


@dataclass(frozen=True, slots=True)
class Classification:
    impact: str | None = None
    urgency: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentsConfig:
    priority: PriorityPolicy = field(default_factory=PriorityPolicy)
    reopen_within: float = 0.0
    impact: str = "medium"
    urgency: str = "medium"
    tags: Mapping[str, Classification] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BackendSpec:
    type: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TicketsConfig:
    backends: Mapping[str, BackendSpec] = field(default_factory=lambda: {"builtin": BackendSpec("builtin")})
    default: tuple[str, ...] = ("builtin",)
    fallback: tuple[str, ...] = ("builtin",)
    base_backoff: float = 2.0
    max_backoff: float = 300.0
    alert_after: float = 300.0


def read_incidents(rd: r.Reader) -> IncidentsConfig:
    d = IncidentsConfig()
    calendars = {"business": BusinessCalendar()}
    cal_rd = rd.child("calendars")
    for name in cal_rd.names():
        cal = _read_calendar(cal_rd.child(name))
        if cal is not None:
            calendars[str(name)] = cal
    targets = dict(DEFAULT_TARGETS)
    tg_rd = rd.child("targets")
    for prio in tg_rd.names(PRIORITIES):
        t_rd = tg_rd.child(prio)
        base = targets[prio]
        clock = t_rd.get("clock", r.string, base.clock)
        if clock != "24x7" and clock not in calendars:
            t_rd.problem("clock", f"unknown clock {clock!r} (24x7 or a calendar: {', '.join(calendars)})")
        targets[prio] = Target(
            respond=_optional_duration(t_rd, "respond", base.respond),
            resolve=_optional_duration(t_rd, "resolve", base.resolve),
            clock=clock,
        )
        t_rd.finish()
    matrix = {u: dict(row) for u, row in DEFAULT_MATRIX.items()}
    mx_rd = rd.child("matrix")
    for urgency in mx_rd.names(LEVELS, f"urgency must be one of {', '.join(LEVELS)}"):
        row_rd = mx_rd.child(urgency)
        for impact in LEVELS:
            matrix[urgency][impact] = (
                row_rd.get(impact, r.one_of(*[p.lower() for p in PRIORITIES]), "").upper()
                or (matrix[urgency][impact])
            )
        row_rd.finish()
    shift: dict[State, int] = {State.WARNING: -1}
    sh_rd = rd.child("urgency_shift")
    for name in sh_rd.names():
        try:
            st = State.parse(str(name))
        except ValueError as exc:
            sh_rd.problem(name, str(exc))
            continue
        shift[st] = sh_rd.get(name, _shift_steps, 0)
    tags: dict[str, Classification] = {}
    tags_rd = rd.child("tags")
    for tag in tags_rd.names():
        t_rd = tags_rd.child(tag)
        tags[str(tag)] = Classification(t_rd.get("impact", level, None), t_rd.get("urgency", level, None))
        t_rd.finish()
    out = IncidentsConfig(
        priority=PriorityPolicy(matrix=matrix, targets=targets, urgency_shift=shift, calendars=calendars),
        reopen_within=rd.get("reopen_within", _duration_or_zero, d.reopen_within),
        impact=rd.get("impact", level, d.impact),
        urgency=rd.get("urgency", level, d.urgency),
        tags=tags,
    )
    rd.finish()
    return out


def _shift_steps(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -2 <= value <= 2:
        raise ValueError(f"expected a step between -2 and 2, not {value!r}")
    return value


def _duration_or_zero(value: Any) -> float:
    return 0.0 if value in (0, "0", False) else r.duration(value)


def _optional_duration(rd: r.Reader, key: str, default: float | None) -> float | None:
    if rd.has(key) and rd.raw(key) in ("by agreement", "none"):
        return None
    return rd.get(key, r.duration, default)


def _read_calendar(rd: r.Reader) -> BusinessCalendar | None:
    d = BusinessCalendar()
    tz = rd.get("timezone", r.timezone, d.timezone)
    days = rd.get("days", r.weekdays, d.days)
    hours = rd.get("hours", parse_hours, (d.start, d.end))
    holidays = rd.get("holidays", _dates, d.holidays)
    rd.finish()
    return BusinessCalendar(tz, days, hours[0], hours[1], holidays)


def _dates(value: Any) -> frozenset[dt.date]:
    if not isinstance(value, list):
        raise ValueError("expected a list of dates (YYYY-MM-DD)")
    out = set()
    for v in value:
        if isinstance(v, dt.date):
            out.add(v)
        else:
            try:
                out.add(dt.date.fromisoformat(str(v)))
            except ValueError:
                raise ValueError(f"not a date: {v!r} (YYYY-MM-DD)") from None
    return frozenset(out)


def read_tickets(rd: r.Reader) -> TicketsConfig:
    d = TicketsConfig()
    backends: dict[str, BackendSpec] = {"builtin": BackendSpec("builtin")}
    b_rd = rd.child("backends")
    for name in b_rd.names():
        spec_rd = b_rd.child(name)
        if name == "builtin":
            spec_rd.problem(None, "'builtin' is always there; it takes no settings")
            continue
        kind = spec_rd.get("type", r.one_of(*TICKET_TYPES), "")
        params = {k: spec_rd.raw(k) for k in spec_rd.unread()}
        if kind:
            try:
                build_backend(kind, params)
            except ParamError as exc:
                spec_rd.problem(exc.key, exc.message)
            except ImportError as exc:
                spec_rd.problem("type", f"backend {kind!r} is not available: {exc}")
        backends[str(name)] = BackendSpec(kind, params)
    names = tuple(backends)
    pick = r.member_list(names, "ticket backend")
    out = TicketsConfig(
        backends=backends,
        default=rd.get("default", pick, d.default),
        fallback=rd.get("fallback", pick, d.fallback),
        base_backoff=rd.get("base_backoff", r.duration, d.base_backoff),
        max_backoff=rd.get("max_backoff", r.duration, d.max_backoff),
        alert_after=rd.get("alert_after", r.duration, d.alert_after),
    )
    rd.finish()
    return out


def build_backend(kind: str, params: Mapping[str, Any]) -> Any:
    """Construct a configured (non-builtin) backend through its `from_config`."""
    module_name, _, cls_name = TICKET_TYPES[kind].partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls.from_config(params)
