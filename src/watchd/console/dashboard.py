"""What the ops dashboard shows, computed from the live view (pure: no I/O, `now` passed in).

Problems first: open incidents and non-OK checks, grouped by customer and host, worst first; then hosts
that went silent; then maintenance now and next. Healthy hosts are only counted, per customer: with
10,000 hosts the page stays one screen of what needs people, and the host list is a page of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from watchd.console.config import ConsoleConfig
from watchd.console.view import SEVERITY, CheckView, FleetView, HostView

UNASSIGNED = ""  # hosts no customer claims


@dataclass(frozen=True, slots=True)
class Deadline:
    label: str  # "respond", "resolve"
    at: float
    left: float  # seconds; negative: breached
    met: bool  # acknowledged (respond) or resolved in time

    @property
    def breached(self) -> bool:
        return self.left < 0 and not self.met


@dataclass(frozen=True, slots=True)
class Ticket:
    system: str  # the host's ticket channel: rt, redmine, builtin, ...
    ref: str
    url: str | None  # from console.ticket_urls; None: no link


@dataclass(frozen=True, slots=True)
class IncidentRow:
    host: str
    id: int
    check: str
    priority: str
    summary: str
    opened_at: float
    acked_by: str | None
    deadlines: tuple[Deadline, ...]
    told: tuple[str, ...]
    ticket: Ticket | None
    suppressed_by: str | None


@dataclass(slots=True)
class HostProblems:
    host: HostView
    checks: list[CheckView]
    incidents: list[IncidentRow]
    silent: bool
    maintenance: dict[str, Any] | None

    @property
    def severity(self) -> int:
        worst = max((SEVERITY[c.hard_state] for c in self.checks), default=0)
        return 4 if self.silent else worst


@dataclass(slots=True)
class CustomerGroup:
    id: str
    name: str
    hosts: list[HostProblems] = field(default_factory=list)
    total: int = 0
    healthy: int = 0


@dataclass(slots=True)
class Dashboard:
    groups: list[CustomerGroup]
    silent: list[HostView]
    maintenance_now: list[tuple[str, dict[str, Any]]]
    maintenance_next: list[tuple[str, dict[str, Any]]]
    hosts: int
    checks: int
    problems: int
    incidents: int
    breached: int


def deadlines(doc: dict[str, Any], now: float) -> tuple[Deadline, ...]:
    out = []
    for label, key, done in (("respond", "respond_by", "acked_at"), ("resolve", "resolve_by", "resolved_at")):
        at = doc.get(key)
        if isinstance(at, int | float) and not isinstance(at, bool):
            finished = doc.get(done)
            met = isinstance(finished, int | float) and finished <= at
            out.append(Deadline(label, float(at), float(at) - now, met))
    return tuple(out)


def incident_row(
    host: str, doc: dict[str, Any], now: float, ticket_urls: Mapping[str, str] | None = None
) -> IncidentRow:
    opened = doc.get("opened_at")
    return IncidentRow(
        host=host,
        id=int(doc.get("id") or 0),
        check=str(doc.get("check") or ""),
        priority=str(doc.get("priority") or ""),
        summary=str(doc.get("summary") or ""),
        opened_at=float(opened) if isinstance(opened, int | float) else now,
        acked_by=doc["acked_by"] if isinstance(doc.get("acked_by"), str) else None,
        deadlines=deadlines(doc, now),
        told=_told(doc.get("told")),
        ticket=_ticket(doc.get("ticket"), ticket_urls or {}),
        suppressed_by=doc["suppressed_by"] if isinstance(doc.get("suppressed_by"), str) else None,
    )


def _told(value: Any) -> tuple[str, ...]:
    """`alice (email)` per contact and medium the host says it reached."""
    if not isinstance(value, list):
        return ()
    out = []
    for t in value[:50]:
        if isinstance(t, dict) and isinstance(t.get("contact"), str):
            medium = t.get("medium")
            out.append(f"{t['contact']} ({medium})" if isinstance(medium, str) and medium else t["contact"])
    return tuple(out)


def _ticket(value: Any, urls: Mapping[str, str]) -> Ticket | None:
    """The ticket with a link when the console knows the ticket system's web address for it."""
    if not isinstance(value, dict) or not isinstance(value.get("ref"), str):
        return None
    channel = str(value.get("channel") or "")
    ref = value["ref"]
    template = urls.get(channel.removeprefix("ticket:"))
    url = template.replace("{ref}", quote(ref, safe="")) if template else None
    return Ticket(channel.removeprefix("ticket:"), ref, url)


def build(view: FleetView, owner: Owners, now: float, horizon: float = 14 * 86400) -> Dashboard:
    cfg = owner.cfg
    groups: dict[str, CustomerGroup] = {c.id: CustomerGroup(c.id, c.name) for c in cfg.customers.values()}
    groups[UNASSIGNED] = CustomerGroup(UNASSIGNED, "No customer")
    silent_hosts, m_now, m_next = [], [], []
    checks = problems = incidents = breached = 0
    default_interval = cfg.mqtt.heartbeat_interval
    for h in view:
        g = groups[owner[h.name]]
        g.total += 1
        checks += len(h.checks)
        bad = [c for c in h.checks.values() if c.problem]
        silent = h.silent(now, cfg.silent_after, default_interval)
        for w in h.maintenance:
            start, end = w.get("start"), w.get("end")
            if not isinstance(start, int | float) or not isinstance(end, int | float) or end <= now:
                continue
            if start <= now:
                m_now.append((h.name, w))
            elif start - now < horizon:
                m_next.append((h.name, w))
        if silent:
            silent_hosts.append(h)
        if not bad and not h.incidents and not silent:
            g.healthy += 1
            continue
        rows = [incident_row(h.name, d, now, cfg.ticket_urls) for d in h.incidents.values()]
        rows.sort(key=lambda r: (r.priority, r.opened_at))
        problems += len(bad)
        incidents += len(rows)
        breached += sum(1 for r in rows if any(d.breached for d in r.deadlines))
        bad.sort(key=lambda c: (-SEVERITY[c.hard_state], c.name))
        g.hosts.append(HostProblems(h, bad, rows, silent, h.in_maintenance(now)))
    for g in groups.values():
        g.hosts.sort(key=lambda p: (-p.severity, p.host.name))
    ordered = sorted(
        (g for g in groups.values() if g.total),
        key=lambda g: (-max((p.severity for p in g.hosts), default=-1), g.name),
    )
    m_now.sort(key=lambda x: float(x[1]["end"]))
    m_next.sort(key=lambda x: float(x[1]["start"]))
    return Dashboard(
        groups=ordered,
        silent=sorted(silent_hosts, key=lambda h: h.name),
        maintenance_now=m_now,
        maintenance_next=m_next[:50],
        hosts=len(view.hosts),
        checks=checks,
        problems=problems,
        incidents=incidents,
        breached=breached,
    )


class Owners:
    """Customer id per host. Matching every customer's globs for 10,000 hosts on each render would
    dominate it, so each host's answer is remembered (for one config: a new config, a new Owners)."""

    def __init__(self, cfg: ConsoleConfig) -> None:
        self.cfg = cfg
        self._known: dict[str, str] = {}

    def __getitem__(self, host: str) -> str:
        cid = self._known.get(host)
        if cid is None:
            c = self.cfg.customer_of(host)
            cid = self._known[host] = c.id if c is not None else UNASSIGNED
        return cid


def host_json(h: HostView, owner: Owners, now: float) -> dict[str, Any]:
    cfg = owner.cfg
    return {
        "host": h.name,
        "customer": owner[h.name] or None,
        "online": h.online,
        "silent": h.silent(now, cfg.silent_after, cfg.mqtt.heartbeat_interval),
        "last_seen": h.last_seen,
        "checks": {
            c.name: {
                "state": c.state,
                "hard_state": c.hard_state,
                "state_type": c.state_type,
                "summary": c.summary,
                "last_change": c.last_change,
                "received_at": c.received_at,
            }
            for c in h.checks.values()
        },
        "incidents": list(h.incidents.values()),
        "maintenance": h.maintenance,
    }


def fleet_json(view: FleetView, owner: Owners, now: float) -> dict[str, Any]:
    """Everything the view holds, for `GET /api/v1/fleet` (tools)."""
    return {"version": view.version, "at": now, "hosts": {h.name: host_json(h, owner, now) for h in view}}
