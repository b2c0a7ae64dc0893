"""Paging: which level of an incident's escalation policy is due, and whom it wakes. Pure.

    level k fires at  start + after_k             (start: when paging began: open or activation)
                  or  respond_by / resolve_by + after_k   (`at: response` / `at: resolution`)
    while the incident is open, not acknowledged and not held back. With `repeat: N` the whole
    chain runs again N times, each round starting where the previous one's last level fired.

A rotation target is resolved when its level fires (who is on duty *then*), so a hand-off during a
long incident pages the new person. The caller records fired levels in the store (`escalations`,
deadline "page"), so a level fires once, also across restarts.

Quiet hours mute the media they list (SMS and voice at night, say) for priorities below `pierce`;
the contact's other media (email) still carry the page, and P1 gets through by default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from watchd.core.model import Incident
from watchd.core.oncall import PageLevel, PagingPolicy, Rotation, staffing
from watchd.core.priority import PRIORITIES


@dataclass(frozen=True, slots=True)
class Page:
    number: int  # round * len(levels) + level: the key stored as fired
    level: int
    round: int
    contacts: tuple[str, ...]
    nobody: tuple[str, ...] = ()  # rotations with nobody on duty at fire time


def _base(inc: Incident, level: PageLevel, start: float) -> float | None:
    if level.deadline == "response":
        return inc.respond_by
    if level.deadline == "resolution":
        return inc.resolve_by
    return start


def fire_times(inc: Incident, policy: PagingPolicy, start: float) -> list[tuple[int, int, int, float]]:
    """(number, level, round, time) of every level of every round, in policy order; levels whose
    deadline the incident has not (no SLA target) are left out."""
    out: list[tuple[int, int, int, float]] = []
    offset = 0.0
    n = len(policy.levels)
    for rnd in range(policy.repeat + 1):
        last = None
        for i, level in enumerate(policy.levels):
            base = _base(inc, level, start)
            if base is None:
                continue
            t = base + level.after + offset
            out.append((rnd * n + i, i, rnd, t))
            last = t if last is None else max(last, t)
        if last is None or last <= start + offset:
            break  # a chain that all fires at once is not repeated: it would page in a burst
        offset = last - start
    return out


def due(
    inc: Incident,
    now: float,
    policy: PagingPolicy,
    rotations: Mapping[str, Rotation],
    start: float,
    fired: set[int],
) -> list[Page]:
    if not inc.is_open or inc.acked_at is not None or inc.suppressed_by is not None:
        return []
    pages = []
    for number, level, rnd, t in fire_times(inc, policy, start):
        if t <= now and number not in fired:
            contacts, nobody = staffing(policy.levels[level].targets, rotations, now)
            pages.append(Page(number, level, rnd, contacts, nobody))
    return pages


def next_due(inc: Incident, policy: PagingPolicy, start: float, fired: set[int]) -> float | None:
    """When the next level fires (for `watchd incidents show` and the follow-up timer)."""
    times = [t for number, _, _, t in fire_times(inc, policy, start) if number not in fired]
    return min(times) if times else None


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A span in the contact's zone during which `media` stay silent for priorities below `pierce`
    (P1 always gets through by default). Wall times, so a span keeps its edges across DST changes.
    A span past midnight belongs to the day it starts, as a rotation's night restriction does:
    22:00-07:00 on mon-fri runs Monday night to Saturday morning (Saturday 03:00 is quiet, Monday
    03:00 is not)."""

    days: frozenset[int]  # 0 = Monday
    start: dt.time
    end: dt.time  # end <= start: the span runs past midnight into the next day
    media: tuple[str, ...]
    pierce: str = "P1"  # this priority and more urgent ones ignore the quiet hours

    def covers(self, at: float, zone: str) -> bool:
        local = dt.datetime.fromtimestamp(at, ZoneInfo(zone))
        t = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= t < self.end
        if t >= self.start:  # the evening part, on a listed day
            return local.weekday() in self.days
        return t < self.end and (local.weekday() - 1) % 7 in self.days  # the morning after a listed day


def audible(
    media: Sequence[str], priority: str, at: float, zone: str, quiet: Sequence[QuietHours]
) -> tuple[str, ...]:
    """The media that may sound now for this priority."""
    muted: set[str] = set()
    for q in quiet:
        pierces = priority in PRIORITIES and PRIORITIES.index(priority) <= PRIORITIES.index(q.pierce)
        if not pierces and q.covers(at, zone):
            muted.update(q.media)
    return tuple(m for m in media if m not in muted)


@dataclass(frozen=True, slots=True)
class Digest:
    """Notifications of these priorities reach the contact once a day at `at` (their zone), as one
    message listing each incident and how it stands then, instead of one message each."""

    at: dt.time
    priorities: tuple[str, ...] = ("P4",)
    medium: str = "email"

    def holds(self, priority: str) -> bool:
        return priority in self.priorities

    def due(self, now: float, zone: str, oldest: float) -> bool:
        """Whether the items held since `oldest` go out now: a digest time passed since then."""
        tz = ZoneInfo(zone)
        today = dt.datetime.fromtimestamp(now, tz)
        slot = dt.datetime.combine(today.date(), self.at, tz)
        if slot.timestamp() > now:
            slot = dt.datetime.combine(today.date() - dt.timedelta(days=1), self.at, tz)
        return oldest < slot.timestamp()
