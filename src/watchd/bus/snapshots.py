"""What the retained snapshots say, and their JSON. Pure: no I/O, no clock (`now` is an argument).

Two retained topics per host describe the present for a consumer that (re)starts with nothing:

- `incident/<id>` while the incident is open: the incident's own fields (as the lifecycle payload
  has them), every delivery of it (the newest MAX_DELIVERIES), who was told, and its ticket;
- `maintenance`: the maintenance windows (recurring ones from the config, one-off downtimes) and
  silences active now or starting within the horizon.

`SnapshotSource` is where they come from (the daemon reads its store: watchd.daemon.snapshots);
`bus.mirror` keeps the broker in step with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from watchd.bus import payloads
from watchd.core.model import Incident

MAX_DELIVERIES = 50  # newest outbox rows per snapshot: renotification for weeks must not grow it unbounded
MAX_WINDOWS = 100  # a minutely cron window would otherwise list thousands of occurrences
DONE, FAILED, PENDING = "done", "failed", "pending"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row of the incident: `ticket:<backend>` or `notify:<contact>:<medium>`."""

    channel: str
    kind: str  # open, update, resolve, ack, escalate, ... (the row's kind)
    status: str  # pending | done | failed
    done_at: float | None = None
    ref: str | None = None  # the channel's ticket ref, for ticket channels


@dataclass(frozen=True, slots=True)
class IncidentView:
    incident: Incident
    action: str  # the newest timeline entry's action (open, update, ack, escalate, ...)
    deliveries: tuple[Delivery, ...] = ()  # oldest first


@dataclass(frozen=True, slots=True)
class WindowView:
    key: str  # "config:<name>" or "downtime:<id>"
    starts_at: float
    ends_at: float
    checks: tuple[str, ...] = ()  # checks and tags both empty: the whole host
    tags: tuple[str, ...] = ()
    comment: str = ""
    announce: bool = False
    covers: tuple[str, ...] = ()  # the checks that carry `tags` (for consumers that know no tags)


@dataclass(frozen=True, slots=True)
class SilenceView:
    id: int
    check: str
    starts_at: float
    ends_at: float
    by: str = ""
    comment: str = ""


@dataclass(frozen=True, slots=True)
class MaintenanceView:
    windows: tuple[WindowView, ...] = ()  # by start
    silences: tuple[SilenceView, ...] = ()


class SnapshotSource(Protocol):
    def open_incidents(self) -> Sequence[IncidentView]: ...

    def incident(self, incident_id: int) -> IncidentView | None:
        """Any incident, open or resolved; None if there is no such incident."""

    def maintenance(self, start: float, end: float) -> MaintenanceView:
        """Windows and silences overlapping [start, end)."""

    def version(self) -> int:
        """A number that changes when another process (the CLI) wrote to the store."""


# -- incidents ------------------------------------------------------------------------------------


def incident_payload(view: IncidentView) -> bytes:
    inc = view.incident
    body = payloads.incident_fields(view.action, inc)
    rows = view.deliveries
    body["deliveries"] = [_delivery(d) for d in rows[-MAX_DELIVERIES:]]
    if len(rows) > MAX_DELIVERIES:
        body["deliveries_omitted"] = len(rows) - MAX_DELIVERIES
    body["told"] = told(rows)
    body["ticket"] = ticket(rows)
    return payloads.encode("incident", body)


def _delivery(d: Delivery) -> dict[str, Any]:
    return {"channel": d.channel, "kind": d.kind, "status": d.status, "ref": d.ref, "done_at": d.done_at}


def told(rows: Sequence[Delivery]) -> list[dict[str, Any]]:
    """Each contact and medium that got a notification about the incident, with when it first did."""
    first: dict[tuple[str, str], float] = {}
    for d in rows:
        if d.status != DONE or not d.channel.startswith("notify:"):
            continue
        _, contact, medium = d.channel.split(":", 2)
        at = d.done_at if d.done_at is not None else 0.0
        first[(contact, medium)] = min(first.get((contact, medium), at), at)
    return [
        {"contact": c, "medium": m, "at": at}
        for (c, m), at in sorted(first.items(), key=lambda item: (item[1], item[0]))
    ]


def ticket(rows: Sequence[Delivery]) -> dict[str, Any] | None:
    """The ticket people know: an external ticket system's, else the builtin one (as notices say).

    No `url`: no ticket backend can build a web address for a ticket yet."""
    refs = {d.channel: d.ref for d in rows if d.channel.startswith("ticket:") and d.ref}
    if not refs:
        return None
    external = sorted(c for c in refs if c != "ticket:builtin")
    channel = external[0] if external else "ticket:builtin"
    return {"channel": channel, "ref": refs[channel]}


# -- maintenance ----------------------------------------------------------------------------------


def maintenance_doc(host: str, view: MaintenanceView, now: float, horizon: float) -> dict[str, Any]:
    """The maintenance payload's fields except `at` (so that an unchanged picture compares equal)."""
    windows = view.windows[:MAX_WINDOWS]
    silences = view.silences[:MAX_WINDOWS]
    doc: dict[str, Any] = {
        "host": host,
        "horizon": horizon,
        "windows": [_window(w, now) for w in windows],
        "silences": [_silence(s, now) for s in silences],
    }
    if len(windows) < len(view.windows) or len(silences) < len(view.silences):
        doc["truncated"] = True
    return doc


def maintenance_payload(doc: dict[str, Any], at: float) -> bytes:
    return payloads.encode("maintenance", {**doc, "at": at})


def _window(w: WindowView, now: float) -> dict[str, Any]:
    source, _, name = w.key.partition(":")
    return {
        "key": w.key,
        "source": source,  # config (a recurring window) or downtime (a one-off)
        "name": name,  # the config window's name, or the downtime's id
        "start": w.starts_at,
        "end": w.ends_at,
        "active": w.starts_at <= now < w.ends_at,
        "scope": {
            "host": not w.checks and not w.tags,
            "checks": list(w.checks),
            "tags": list(w.tags),
            "covers": sorted(set(w.checks) | set(w.covers)),
        },
        "comment": w.comment,
        "announce": w.announce,
    }


def _silence(s: SilenceView, now: float) -> dict[str, Any]:
    return {
        "id": s.id,
        "check": s.check,
        "start": s.starts_at,
        "end": s.ends_at,
        "active": s.starts_at <= now < s.ends_at,
        "by": s.by,
        "comment": s.comment,
    }


def next_boundary(view: MaintenanceView, now: float) -> float | None:
    """The next moment after `now` at which a window or silence starts or ends (its `active` flips)."""
    spans = [(w.starts_at, w.ends_at) for w in view.windows[:MAX_WINDOWS]]
    spans += [(s.starts_at, s.ends_at) for s in view.silences[:MAX_WINDOWS]]
    ahead = [t for span in spans for t in span if t > now]
    return min(ahead, default=None)
