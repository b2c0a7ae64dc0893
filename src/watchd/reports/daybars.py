"""Day bars: one local day's availability and its colour, for the 90-day rows of status pages (the
daemon's `/status` and the console's customer pages). Pure: an `sla.Accounting` and the days in."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from watchd.core import sla


@dataclass(frozen=True, slots=True)
class DayBar:
    date: dt.date
    availability: sla.Availability
    level: str


def level(a: sla.Availability, target: float) -> str:
    """A day bar's colour: target met, below target (down to 99 % or target - 1), or worse."""
    p = a.availability
    if p is None:
        return "maintenance" if a.excluded_s > 0 and a.unknown_s < 1.0 else "nodata"
    if p * 100.0 >= target - 1e-9:
        return "ok"
    if p * 100.0 >= min(99.0, target - 1.0):
        return "minor"
    return "major"


def day_bars(
    acc: sla.Accounting, days: Sequence[tuple[dt.date, float, float]], now: float, target: float
) -> list[DayBar]:
    """One bar per (date, start, end), as `reports.availability.day_starts` lists them."""
    out = []
    for d, a, b in days:
        avail = acc.account(a, b, now)
        out.append(DayBar(d, avail, level(avail, target)))
    return out


# -- words for a bar (its tooltip), shared by both status pages -------------------------------------


def percent_text(ratio: float | None) -> str:
    """Floored to two decimals, so 99.999 % never shows as 100 %: '99.99 %'; a dash without data."""
    if ratio is None:
        return "–"
    p = math.floor(ratio * 100.0 * 100.0 + 1e-6) / 100.0
    return f"{p:.2f} %"


def minutes_text(seconds: float) -> str:
    m = seconds / 60.0
    if m < 120:
        return f"{m:.1f} min"
    if m < 48 * 60:
        return f"{m / 60.0:.1f} h"
    return f"{m / 1440.0:.1f} days"


def bar_title(b: DayBar) -> str:
    a = b.availability
    parts = [b.date.isoformat()]
    if a.availability is None:
        parts.append("maintenance" if b.level == "maintenance" else "no data")
    else:
        parts.append(f"{percent_text(a.availability)} available")
        parts.append(f"{minutes_text(a.down_s)} down")
    if a.excluded_s:
        parts.append(f"{minutes_text(a.excluded_s)} maintenance")
    if a.unknown_s >= 60:
        parts.append(f"{minutes_text(a.unknown_s)} not monitored")
    return " · ".join(parts)
