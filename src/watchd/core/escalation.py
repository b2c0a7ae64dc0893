"""SLA clocks: which escalations and renotifications are due for an incident. Pure.

    respond_by passed, not acknowledged -> escalation level 0, then level k at respond_by + after_k
                                           (the first one also marks the response target breached)
    resolve_by passed, not resolved     -> one resolution escalation to level 0 (and marks it breached)
    renotify_interval since last notice -> renotify on-call, while open, unacknowledged, not suppressed

Each escalation fires once: the caller remembers fired (deadline, level) pairs in the store, so a
deadline that passed while the daemon was down fires once at the next start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from watchd.core.model import Incident


@dataclass(frozen=True, slots=True)
class Level:
    after: float  # seconds after the deadline
    contacts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Escalation:
    deadline: str  # "respond" or "resolve"
    level: int
    contacts: tuple[str, ...]


def due(inc: Incident, now: float, chain: Sequence[Level], fired: set[tuple[str, int]]) -> list[Escalation]:
    if not inc.is_open or inc.suppressed_by is not None or not chain:
        return []
    out = []
    if inc.acked_at is None and inc.respond_by is not None:
        for i, level in enumerate(chain):
            if now >= inc.respond_by + level.after and ("respond", i) not in fired:
                out.append(Escalation("respond", i, level.contacts))
    if inc.resolve_by is not None and now >= inc.resolve_by and ("resolve", 0) not in fired:
        out.append(Escalation("resolve", 0, chain[0].contacts))
    return out


def renotify_due(inc: Incident, now: float, interval: float, last_notified: float | None) -> bool:
    if interval <= 0 or not inc.is_open or inc.acked_at is not None or inc.suppressed_by is not None:
        return False
    return now - (last_notified or inc.opened_at) >= interval
