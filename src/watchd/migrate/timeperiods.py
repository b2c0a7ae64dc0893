"""Nagios time periods -> watchd business calendars, where they fit. Pure.

A watchd calendar is one range of hours on a set of weekdays, in one time zone, minus holiday dates. So a
period maps when every day it names has the same single range; `00:00-24:00` on all seven days with no
exceptions is watchd's `24x7` clock; a date exception with no hours (`december 25 00:00-00:00`), or a date
of an excluded period, becomes a holiday, written out for the given years since watchd's holidays are
dates. Anything else (different hours per day, split days, `day 1 - 15`, skip intervals) is reported.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from watchd.migrate.model import CalendarOut
from watchd.migrate.nagios_objects import Obj

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
)  # fmt: skip
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_ISO_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2}) - (\d{4}-\d{2}-\d{2})$")
_MONTH_DAY = re.compile(rf"^({'|'.join(MONTHS)}) (\d{{1,2}})$")
_NTH_WEEKDAY = re.compile(rf"^({'|'.join(WEEKDAYS)}) (-?\d) ({'|'.join(MONTHS)})$")
_NO_TIME = ("", "00:00-00:00")


@dataclass(slots=True)
class PeriodResult:
    """What one time period became: a calendar, the `24x7` clock, or nothing (with why)."""

    calendar: CalendarOut | None = None
    is_24x7: bool = False
    skipped: str | None = None  # why the period as a whole does not map
    notes: list[str] = field(default_factory=list)  # parts that were left out or changed


def translate_period(
    name: str, tp: Obj, periods: dict[str, Obj], years: tuple[int, ...], depth: int = 0
) -> PeriodResult:
    out = PeriodResult()
    days = {d: tp.timeranges[d].value for d in WEEKDAYS if d in tp.timeranges}
    exceptions = {s: d.value for s, d in tp.timeranges.items() if s not in WEEKDAYS}
    open_days = {d: r for d, r in days.items() if r not in _NO_TIME}
    if not open_days:
        out.skipped = "has no weekly hours (watchd calendars are weekly hours minus holidays)"
        return out
    ranges = set(open_days.values())
    if len(ranges) > 1:
        which = ", ".join(sorted(ranges))
        out.skipped = f"has different hours on different days ({which}); a watchd calendar has one range"
        return out
    hours = ranges.pop()
    if "," in hours:
        out.skipped = f"splits the day ({hours}); a watchd calendar has one range per day"
        return out
    holidays: set[dt.date] = set()
    for spec, value in exceptions.items():
        if value not in _NO_TIME:
            out.notes.append(f"exception '{spec} {value}' left out: watchd holidays are whole days off")
            continue
        dates, why = expand_date(spec, years)
        if why:
            out.notes.append(f"exception '{spec}' left out: {why}")
        holidays.update(dates)
    for ex in tp.items("exclude"):
        other = periods.get(ex)
        if other is None or depth > 5:
            out.notes.append(f"exclude {ex}: no such time period")
            continue
        if any(other.timeranges[d].value not in _NO_TIME for d in WEEKDAYS if d in other.timeranges):
            out.notes.append(f"exclude {ex} left out: it excludes weekly hours, not dates")
        for spec, d in other.timeranges.items():
            if spec in WEEKDAYS:
                continue
            dates, why = expand_date(spec, years)
            if why or d.value != "00:00-24:00":
                out.notes.append(f"exclude {ex}: '{spec} {d.value}' left out: {why or 'not a whole day'}")
            else:
                holidays.update(dates)
    if hours == "00:00-24:00" and len(open_days) == 7 and not holidays:
        out.is_24x7 = True
        return out
    start, _, end = hours.partition("-")
    if end == "24:00":
        end = "23:59:59"
        out.notes.append("00:00-24:00 written as 00:00-23:59:59 (watchd hours end within the day)")
    short = tuple(d[:3] for d in WEEKDAYS if d in open_days)
    comment = f"years {years[0]}-{years[-1]} of recurring holidays" if holidays and len(years) > 1 else ""
    out.calendar = CalendarOut(
        name, tp.origin, short, f"{_pad(start)}-{_pad(end)}", tuple(sorted(holidays)), comment
    )
    return out


def _pad(t: str) -> str:
    h, _, rest = t.partition(":")
    return f"{int(h):02d}:{rest}"


def expand_date(spec: str, years: tuple[int, ...]) -> tuple[list[dt.date], str | None]:
    """The dates a Nagios date exception names within `years`, or why it cannot be expanded."""
    spec = spec.lower()
    try:
        if m := _ISO.match(spec):
            return [dt.date(int(m[1]), int(m[2]), int(m[3]))], None
        if m := _ISO_RANGE.match(spec):
            a, b = dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])
            if (b - a).days > 366:
                return [], "a date range longer than a year"
            return [a + dt.timedelta(days=i) for i in range((b - a).days + 1)], None
        if m := _MONTH_DAY.match(spec):
            return [dt.date(y, MONTHS.index(m[1]) + 1, int(m[2])) for y in years], None
        if m := _NTH_WEEKDAY.match(spec):
            wd, n, month = WEEKDAYS.index(m[1]), int(m[2]), MONTHS.index(m[3]) + 1
            return [_nth_weekday(y, month, wd, n) for y in years], None
    except ValueError as exc:
        return [], str(exc)
    return [], "this date form has no watchd equivalent (holidays are dates)"


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th (1..5, or -1 for the last) given weekday of a month."""
    if n > 0:
        first = dt.date(year, month, 1)
        day = first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    else:
        nxt = dt.date(year + month // 12, month % 12 + 1, 1)
        last = nxt - dt.timedelta(days=1)
        day = last - dt.timedelta(days=(last.weekday() - weekday) % 7 + 7 * (-n - 1))
    if day.month != month:
        raise ValueError(f"there is no {n}. {WEEKDAYS[weekday]} in {MONTHS[month - 1]} {year}")
    return day
