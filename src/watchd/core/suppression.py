"""Why a check's problem must not reach people right now, if it must not. Pure.

Silences and maintenance windows hold back tickets and notifications (results are still recorded);
a dependency holds them back while a parent check is failing. Recoveries are never held back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from watchd.core.maintenance import Window


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    check: str
    starts_at: float
    ends_at: float
    created_by: str = ""
    comment: str = ""

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at


def reason(
    check: str,
    tags: Iterable[str],
    now: float,
    silences: Sequence[Silence],
    windows: Sequence[Window],
    failing_parents: Sequence[str],
) -> str | None:
    """The first reason that applies, or None when people should be told."""
    tags = tuple(tags)
    for s in silences:
        if s.check == check and s.active(now):
            by = f" by {s.created_by}" if s.created_by else ""
            return f"silenced{by} until {_iso(s.ends_at)}" + (f": {s.comment}" if s.comment else "")
    for w in windows:
        if w.active(now) and w.scope.covers(check, tags):
            return f"maintenance window {w.key} until {_iso(w.ends_at)}"
    if failing_parents:
        return f"depends on {', '.join(failing_parents)}, which is failing"
    return None


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
