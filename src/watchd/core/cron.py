"""Standard 5-field crontab lines (`minute hour day month weekday`) in a time zone. Pure.

Fields take `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`, and names for months
(`jan`..`dec`) and weekdays (`sun`..`sat`). Weekday 0 and 7 are Sunday, as in cron. When both day
of month and weekday are restricted (neither starts with `*`), a day matches if either does, as in
Vixie cron and POSIX.

Times are local wall-clock times of the zone: a time skipped by a DST change does not fire that day,
a time that happens twice fires once (the first time). tests/test_cron.py checks the fire times against
APScheduler's CronTrigger (which watchd used before; importing it pulls in asyncio, and `core` must
stay pure).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (name, low, high, names whose index + offset is the value)
_FIELDS = (
    ("minute", 0, 59, (), 0),
    ("hour", 0, 23, (), 0),
    ("day", 1, 31, (), 0),
    ("month", 1, 12, _MONTHS, 1),
    ("weekday", 0, 7, _DAYS, 0),
)


@dataclass(frozen=True, slots=True)
class CronSpec:
    """A parsed crontab line; `parse` raises ValueError naming the bad field."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # the day field starts with `*` (as in Vixie cron: `*/2` counts too)
    any_weekday: bool  # the weekday field starts with `*`

    @classmethod
    @functools.lru_cache(maxsize=256)  # windows are recomputed often from the same few lines
    def parse(cls, expr: str) -> CronSpec:
        fields = expr.split()
        if len(fields) != 5:
            raise ValueError(f"expected 5 crontab fields (minute hour day month weekday), got {len(fields)}")
        minutes, hours, days, months, weekdays = (
            _parse_field(text, *spec) for text, spec in zip(fields, _FIELDS, strict=True)
        )
        weekdays = frozenset(d % 7 for d in weekdays)
        any_day, any_weekday = fields[2].startswith("*"), fields[4].startswith("*")
        return cls(minutes, hours, days, months, weekdays, any_day, any_weekday)

    def matches_day(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_days and in_weekdays
        return in_days or in_weekdays

    def fires(self, begin: float, end: float, zone: ZoneInfo, limit: int = 10_000) -> list[float]:
        """Fire times (UTC epoch seconds) in [begin, end), at most `limit` of them."""
        out: list[float] = []
        for t in self._candidates(begin, end, zone):
            if t >= end or len(out) >= limit:
                break
            if t >= begin:
                out.append(t)
        return out

    def _candidates(self, begin: float, end: float, zone: ZoneInfo) -> Iterator[float]:
        day = dt.datetime.fromtimestamp(begin, zone).date()
        last = dt.datetime.fromtimestamp(end, zone).date()
        times = [dt.time(h, m) for h in sorted(self.hours) for m in sorted(self.minutes)]
        while day <= last:
            if self.matches_day(day):
                for clock in times:
                    local = dt.datetime.combine(day, clock, tzinfo=zone)
                    if _exists(local):
                        yield local.timestamp()
            day += dt.timedelta(days=1)


def _exists(local: dt.datetime) -> bool:
    """False for a wall-clock time that a DST change skips (it does not survive a round trip)."""
    back = dt.datetime.fromtimestamp(local.timestamp(), local.tzinfo)
    return back.replace(tzinfo=None) == local.replace(tzinfo=None)


def _parse_field(
    text: str, name: str, low: int, high: int, names: tuple[str, ...], offset: int
) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{name}: step must be a positive number, not {step_text!r}")
            step = int(step_text)
        if base == "*":
            lo, hi = low, high
        else:
            lo_text, dash, hi_text = base.partition("-")
            lo = _value(lo_text, name, low, high, names, offset)
            hi = _value(hi_text, name, low, high, names, offset) if dash else (high if slash else lo)
            if lo > hi:
                raise ValueError(f"{name}: range {base!r} runs backwards")
        values.update(range(lo, hi + 1, step))
    return frozenset(values)


def _value(text: str, name: str, low: int, high: int, names: tuple[str, ...], offset: int) -> int:
    token = text.strip().lower()
    if token in names:
        return names.index(token) + offset
    if not token.isdigit():
        kind = f"a number {low}-{high}" + (" or a name" if names else "")
        raise ValueError(f"{name}: expected {kind}, not {text!r}")
    n = int(token)
    if not low <= n <= high:
        raise ValueError(f"{name}: {n} is out of range {low}-{high}")
    return n
