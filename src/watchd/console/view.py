"""The live view of the fleet: every host, check, open incident and maintenance window, as the bus says.

Pure: the subscriber feeds it decoded messages with the time they arrived; it answers with what changed
(for history) and bumps `version` (for the dashboard's cheap "anything new?"). Everything in it comes from
retained messages plus what arrived since, so a console that restarts shows the same view once the
retained messages are in. Heartbeats only move `last_seen`: they carry nothing else the view needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
SEVERITY = {"CRITICAL": 3, "UNKNOWN": 2, "WARNING": 1, "OK": 0}
# One string object per state and state type, not one per decoded message: 200,000 checks' worth.
_CANON = {s: s for s in (*_STATES, "hard", "soft")}


def _canon(text: str) -> str:
    return _CANON.get(text, text)


@dataclass(slots=True)
class CheckView:
    name: str
    state: str
    hard_state: str
    state_type: str
    attempt: int
    summary: str
    flapping: bool
    last_check: float | None
    last_change: float | None
    last_hard_change: float | None
    received_at: float
    next_sample: float = 0.0  # when the subscriber keeps this check's perfdata for graphs again

    @property
    def problem(self) -> bool:
        return self.hard_state != "OK"


@dataclass(slots=True)
class HostView:
    name: str
    online: bool | None = None  # None: no status seen yet
    reason: str = ""
    version: str = ""
    started_at: float | None = None
    heartbeat_interval: float | None = None
    last_seen: float | None = None  # the last message of any kind from this host
    checks: dict[str, CheckView] = field(default_factory=dict)
    incidents: dict[int, dict[str, Any]] = field(default_factory=dict)  # open ones, the host's snapshots
    maintenance: list[dict[str, Any]] = field(default_factory=list)

    def silent(self, now: float, after: float, default_interval: float) -> bool:
        """Lost: the broker published the last will, or no heartbeat for `after` intervals. A clean
        shutdown is not silence (someone stopped it on purpose; the dashboard says "stopped")."""
        if self.online is False:
            return self.reason != "shutdown"
        if self.last_seen is None:
            return False
        return now - self.last_seen > after * (self.heartbeat_interval or default_interval)

    def worst(self) -> str:
        return max((c.hard_state for c in self.checks.values()), key=SEVERITY.__getitem__, default="OK")

    def in_maintenance(self, now: float, check: str | None = None) -> dict[str, Any] | None:
        for w in self.maintenance:
            start, end = w.get("start"), w.get("end")
            if not isinstance(start, int | float) or not isinstance(end, int | float):
                continue
            if start <= now < end and _window_covers(w, check):
                return w
        return None


def _window(w: Any) -> dict[str, Any] | None:
    """A host's window as the console keeps it: `checks` empty for the whole host, else the check
    names it covers (tags already resolved by the host, which knows them: scope.covers)."""
    if not isinstance(w, dict) or not _number(w.get("start")) or not _number(w.get("end")):
        return None
    raw = w.get("scope")
    scope: dict[str, Any] = raw if isinstance(raw, dict) else {}
    covers = scope.get("covers", scope.get("checks"))
    listed = [c for c in covers if isinstance(c, str)][:500] if isinstance(covers, list) else []
    checks = [] if scope.get("host") is True else listed
    if not checks and scope.get("host") is not True and scope:
        return None  # a tag no check carries: covers nothing
    return {
        "start": float(w["start"]),
        "end": float(w["end"]),
        "checks": checks,
        "comment": _str(w.get("comment"))[:500],
        "announce": w.get("announce") is True,
        "source": _str(w.get("source")),
    }


def _window_covers(w: dict[str, Any], check: str | None) -> bool:
    checks = w.get("checks")
    if not checks or check is None:
        return True
    return isinstance(checks, list) and check in checks


# -- what changed (for history) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateChanged:
    host: str
    check: str
    at: float
    state: str
    hard_state: str
    previous_hard: str | None  # None: first seen
    summary: str


@dataclass(frozen=True, slots=True)
class IncidentChanged:
    host: str
    id: int
    doc: dict[str, Any] | None  # None: cleared (the host clears an incident's topic once it is resolved)
    at: float = 0.0  # when the console heard it


@dataclass(frozen=True, slots=True)
class HostChanged:
    host: str
    at: float
    online: bool | None
    reason: str


@dataclass(frozen=True, slots=True)
class MaintenanceChanged:
    host: str
    windows: tuple[dict[str, Any], ...]


Change = StateChanged | IncidentChanged | HostChanged | MaintenanceChanged


class FleetView:
    def __init__(self) -> None:
        self.hosts: dict[str, HostView] = {}
        self.version = 0  # bumped on every change the dashboard shows
        self.messages = 0
        self.rejected = 0  # messages that were not what their topic promised

    def host(self, name: str) -> HostView:
        h = self.hosts.get(name)
        if h is None:
            h = self.hosts[name] = HostView(name)
        return h

    def __iter__(self) -> Iterator[HostView]:
        return iter(self.hosts.values())

    def heartbeat(self, host: str, now: float) -> None:
        h = self.hosts.get(host)
        if h is None:
            h = self.host(host)
            self.version += 1
        h.last_seen = now

    def status(self, host: str, doc: Any, now: float) -> HostChanged | None:
        """A retained status (None: cleared, the host left the fleet)."""
        if doc is None:
            if self.hosts.pop(host, None) is None:
                return None
            self.version += 1
            return HostChanged(host, now, None, "removed")
        if not _schema(doc, "status") or doc.get("status") not in ("online", "offline"):
            self.rejected += 1
            return None
        h = self.host(host)
        online = doc["status"] == "online"
        reason = _str(doc.get("reason"))
        interval = doc.get("heartbeat_interval")
        if _number(interval) and 0 < interval <= 86400:
            h.heartbeat_interval = float(interval)
        h.version, h.started_at = _str(doc.get("version")), _float(doc.get("started_at"))
        changed = h.online != online or h.reason != reason
        h.online, h.reason = online, reason
        if online:
            h.last_seen = now
        self.version += 1
        return HostChanged(host, now, online, reason) if changed else None

    def state(self, host: str, check: str, doc: Any, now: float) -> StateChanged | None:
        h = self.host(host)
        if doc is None:  # the check was removed from the host's config
            if h.checks.pop(check, None) is not None:
                self.version += 1
            return None
        if not _schema(doc, "state") or {doc.get("hard_state"), doc.get("state")} - set(_STATES):
            self.rejected += 1
            return None
        h.last_seen = now
        old = h.checks.get(check)
        new = CheckView(
            name=check,
            state=_canon(doc["state"]),
            hard_state=_canon(doc["hard_state"]),
            state_type=_canon(_str(doc.get("state_type")) or "hard"),
            attempt=doc["attempt"] if isinstance(doc.get("attempt"), int) else 1,
            summary=_str(doc.get("summary"))[:1000],
            flapping=doc.get("flapping") is True,
            last_check=_time(doc.get("last_check")),
            last_change=_time(doc.get("last_change")),
            last_hard_change=_time(doc.get("last_hard_change")),
            received_at=now,
            next_sample=old.next_sample if old is not None else 0.0,
        )
        h.checks[check] = new
        self.version += 1
        if old is not None and old.state == new.state and old.hard_state == new.hard_state:
            return None
        at = new.last_change if new.last_change is not None else now
        return StateChanged(
            host, check, at, new.state, new.hard_state, old.hard_state if old else None, new.summary
        )

    def incident(self, host: str, incident_id: int, doc: Any, now: float = 0.0) -> IncidentChanged | None:
        h = self.host(host)
        if doc is None:  # the host cleared it: resolved (history may still hold it as open)
            if h.incidents.pop(incident_id, None) is not None:
                self.version += 1
            return IncidentChanged(host, incident_id, None, now)
        if not _schema(doc, "incident") or doc.get("id") != incident_id:
            self.rejected += 1
            return None
        if doc.get("status") == "open":
            h.incidents[incident_id] = doc
        else:
            h.incidents.pop(incident_id, None)
        self.version += 1
        return IncidentChanged(host, incident_id, doc, now)

    def maintenance(self, host: str, doc: Any) -> MaintenanceChanged | None:
        h = self.host(host)
        if doc is None:
            windows: list[dict[str, Any]] = []
        elif _schema(doc, "maintenance") and isinstance(doc.get("windows"), list):
            windows = [n for n in map(_window, doc["windows"][:200]) if n is not None]
        else:
            self.rejected += 1
            return None
        h.maintenance = windows
        self.version += 1
        return MaintenanceChanged(host, tuple(windows))

    def silent(self, now: float, after: float, default_interval: float) -> list[HostView]:
        return [h for h in self.hosts.values() if h.silent(now, after, default_interval)]


def _schema(doc: Any, kind: str) -> bool:
    return isinstance(doc, dict) and doc.get("schema") == f"watchd.{kind}/v1"


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v


def _float(v: Any) -> float | None:
    return float(v) if _number(v) else None


def _time(v: Any) -> float | None:
    """An epoch time; a host says 0 for "never" (a check that has not changed since it started)."""
    t = _float(v)
    return t if t is not None and t > 0 else None


def _str(v: Any) -> str:
    return v if isinstance(v, str) else ""
