"""A real console history (console.history over SQLite) filled through History.add and flush, with
fixed timestamps: what the subscriber would have written."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from watchd.console import history
from watchd.console.view import HostChanged, IncidentChanged, MaintenanceChanged, StateChanged

MIN = 60.0
HOUR = 3600.0
DAY = 86400.0


class Recorder:
    def __init__(self, path: Path) -> None:
        self.db: sqlite3.Connection = history.connect(str(path))
        self.history = history.History(self.db)

    def state(self, host: str, check: str, at: float, hard: str, soft: str | None = None) -> None:
        self.history.add(StateChanged(host, check, at, soft or hard, hard, None, f"{hard} summary"))
        self.history.flush()

    def outage(self, host: str, check: str, start: float, end: float, state: str = "CRITICAL") -> None:
        self.state(host, check, start, state)
        self.state(host, check, end, "OK")

    def maintenance(self, host: str, start: float, end: float, checks: Sequence[str] = ()) -> None:
        window = {"start": start, "end": end, "checks": list(checks), "reason": "planned"}
        self.history.add(MaintenanceChanged(host, (window,)))
        self.history.flush()

    def host(self, host: str, at: float, online: bool | None, reason: str = "") -> None:
        self.history.add(HostChanged(host, at, online, reason))
        self.history.flush()

    def incident(self, host: str, iid: int, check: str, opened_at: float, **doc: Any) -> None:
        full = {
            "schema": "watchd.incident/v1", "id": iid, "host": host, "check": check, "priority": "P2",
            "summary": f"{check} is CRITICAL", "status": "open", "opened_at": opened_at,
            "updated_at": opened_at, **doc,
        }  # fmt: skip
        self.history.add(IncidentChanged(host, iid, full))
        self.history.flush()
