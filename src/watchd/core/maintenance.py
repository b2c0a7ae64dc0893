"""Maintenance windows: recurring ones from the config, one-off downtimes from the store. Pure.

A window has a scope (the whole host, or some checks, or some tags) and a time span. Recurring
windows are weekly (days + start time + duration) or cron expressions, in a time zone, so that
"00:00-06:00 Europe/Berlin" stays at local midnight across DST changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from watchd.core.businesshours import BusinessCalendar
from watchd.core.cron import CronSpec


@dataclass(frozen=True, slots=True)
class Scope:
    """What a window covers; all empty means the whole host."""

    checks: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def covers(self, check: str, tags: Iterable[str]) -> bool:
        if not self.checks and not self.tags:
            return True
        return check in self.checks or any(t in self.tags for t in tags)


@dataclass(frozen=True, slots=True)
class Window:
    """One concrete occurrence of maintenance."""

    key: str  # "config:<name>" or "downtime:<id>"
    starts_at: float
    ends_at: float
    scope: Scope = field(default_factory=Scope)
    announce: bool = False
    comment: str = ""
    contacts: tuple[str, ...] | None = None  # who is told; None = every customer contact

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at


@dataclass(frozen=True, slots=True)
class RecurringWindow:
    name: str
    duration: float = 6 * 3600.0
    timezone: str = "Europe/Berlin"
    days: frozenset[int] = frozenset(range(7))  # weekly form: 0 = Monday
    start: dt.time = dt.time(0, 0)
    cron: str | None = None  # instead of days/start
    scope: Scope = field(default_factory=Scope)
    announce: bool = False
    comment: str = ""
    contacts: tuple[str, ...] | None = None

    def occurrences(self, start: float, end: float) -> list[Window]:
        """Every occurrence overlapping [start, end)."""
        begin = start - self.duration
        starts = self._cron_starts(begin, end) if self.cron else self._weekly_starts(begin, end)
        return [
            Window(
                f"config:{self.name}",
                s,
                s + self.duration,
                self.scope,
                self.announce,
                self.comment,
                self.contacts,
            )
            for s in starts
            if s + self.duration > start and s < end
        ]

    def _weekly_starts(self, begin: float, end: float) -> list[float]:
        zone = ZoneInfo(self.timezone)
        day = dt.datetime.fromtimestamp(begin, zone).date()
        last = dt.datetime.fromtimestamp(end, zone).date()
        out = []
        while day <= last:
            if day.weekday() in self.days:
                out.append(dt.datetime.combine(day, self.start, tzinfo=zone).timestamp())
            day += dt.timedelta(days=1)
        return out

    def _cron_starts(self, begin: float, end: float) -> list[float]:
        # bounded: a minutely cron over a long span must not run away
        return CronSpec.parse(self.cron or "").fires(begin, end, ZoneInfo(self.timezone), limit=10_000)


def windows_between(
    recurring: Sequence[RecurringWindow], oneoff: Sequence[Window], start: float, end: float
) -> list[Window]:
    """All windows (recurring occurrences and one-off downtimes) overlapping [start, end), by start."""
    out = [w for r in recurring for w in r.occurrences(start, end)]
    out += [w for w in oneoff if w.ends_at > start and w.starts_at < end]
    return sorted(out, key=lambda w: (w.starts_at, w.key))


def announce_at(starts_at: float, business_days: int, calendar: BusinessCalendar) -> float:
    """When to announce a window so that it is at least `business_days` business days ahead: the
    start of business hours that many business days before the window's day."""
    day = dt.datetime.fromtimestamp(starts_at, calendar.zone).date()
    counted = 0
    for _ in range(3660):
        day -= dt.timedelta(days=1)
        if calendar.is_business_day(day):
            counted += 1
            if counted >= business_days:
                return calendar.window(day)[0]
    raise ValueError("business calendar has no business days")
