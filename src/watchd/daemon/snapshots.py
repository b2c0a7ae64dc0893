"""The bus mirror's snapshot source (watchd.bus.snapshots.SnapshotSource), read from the store and
the config: open incidents with their deliveries and ticket refs, and the maintenance picture.

A few indexed queries per sync: the open incidents (the same scan the follow-up pass makes), the
newest timeline action of each, and each one's outbox rows (through the outbox_pending index).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from watchd.bus.snapshots import (
    Delivery,
    IncidentView,
    MaintenanceView,
    SilenceView,
    WindowView,
)
from watchd.config import Config
from watchd.core.maintenance import Window, windows_between
from watchd.core.model import Incident
from watchd.store import Store
from watchd.store import incidents as incident_store

MAX_OPEN = 1000  # more open incidents than this on one host is an outage of its own; the newest are shown

_DELIVERIES = (
    "SELECT o.channel, o.kind, o.status, o.done_at, t.ref FROM outbox o"
    " LEFT JOIN ticket_refs t ON t.incident_id = o.incident_id AND t.channel = o.channel"
    " WHERE o.status IN ('pending', 'done', 'failed') AND o.incident_id = ? ORDER BY o.id"
)  # the status list lets the outbox_pending index (status, incident_id, ...) find the rows


class StoreSnapshots:
    def __init__(
        self,
        store: Callable[[], Store],
        config: Callable[[], Config],
        downtimes: Callable[[float, float], Sequence[Window]],
    ) -> None:
        """`config()` is the current config (recurring windows; a reload applies), `downtimes(start,
        end)` the store's one-off windows (daemon.routing.Routing.downtimes)."""
        self._store = store
        self._config = config
        self._downtimes = downtimes

    def open_incidents(self) -> list[IncidentView]:
        db = self._store().db
        return _views(db, incident_store.query(db, status="open", limit=MAX_OPEN))

    def incident(self, incident_id: int) -> IncidentView | None:
        db = self._store().db
        inc = incident_store.get(db, incident_id)
        return _views(db, [inc])[0] if inc is not None else None

    def maintenance(self, start: float, end: float) -> MaintenanceView:
        windows = windows_between(self._config().maintenance.windows, self._downtimes(start, end), start, end)
        rows = self._store().db.execute(
            "SELECT id, check_name, starts_at, ends_at, created_by, comment FROM silences"
            " WHERE removed_at IS NULL AND ends_at > ? AND starts_at < ? ORDER BY starts_at, id",
            (start, end),
        )
        checks = self._config().checks
        return MaintenanceView(
            tuple(
                WindowView(
                    w.key, w.starts_at, w.ends_at, w.scope.checks, w.scope.tags, w.comment, w.announce,
                    covers=_tagged(checks, w.scope.tags),
                )
                for w in windows
            ),
            tuple(SilenceView(*r) for r in rows),
        )

    def version(self) -> int:
        return int(self._store().db.execute("PRAGMA data_version").fetchone()[0])


def _tagged(checks: Mapping[str, Any], tags: Sequence[str]) -> tuple[str, ...]:
    """The checks a tag-scoped window covers: a console knows check names, not this host's tags."""
    if not tags:
        return ()
    return tuple(sorted(name for name, c in checks.items() if set(tags) & set(c.tags)))


def _views(db: sqlite3.Connection, incidents: Sequence[Incident]) -> list[IncidentView]:
    ids = [inc.id for inc in incidents]
    actions: dict[int, str] = {}
    for start in range(0, len(ids), 500):  # within SQLite's limit on bound parameters
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        actions.update(
            db.execute(
                "SELECT incident_id, action FROM incident_events WHERE id IN (SELECT max(id)"
                f" FROM incident_events WHERE incident_id IN ({marks}) GROUP BY incident_id)",
                chunk,
            ).fetchall()
        )
    out = []
    for inc in incidents:
        deliveries = tuple(
            Delivery(channel, kind, status, done_at, ref if channel.startswith("ticket:") else None)
            for channel, kind, status, done_at, ref in db.execute(_DELIVERIES, (inc.id,))
        )
        out.append(IncidentView(inc, actions.get(inc.id, "open"), deliveries))
    return out
