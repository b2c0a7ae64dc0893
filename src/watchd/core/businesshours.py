"""Business-hours calendars for SLA clocks. Pure: UTC epoch seconds in, UTC epoch seconds out.

Zone-aware (zoneinfo), so the working day is 09:00-17:00 local time on both sides of a DST change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    timezone: str = "Europe/Berlin"
    days: frozenset[int] = frozenset(range(5))  # 0 = Monday
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(17, 0)
    holidays: frozenset[dt.date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_business_day(self, day: dt.date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def window(self, day: dt.date) -> tuple[float, float]:
        """The day's business hours as UTC epoch seconds."""
        z = self.zone
        return (
            dt.datetime.combine(day, self.start, tzinfo=z).timestamp(),
            dt.datetime.combine(day, self.end, tzinfo=z).timestamp(),
        )

    def add(self, start: float, seconds: float) -> float:
        """The instant `seconds` of business time after `start` (a deadline on this calendar)."""
        day = dt.datetime.fromtimestamp(start, self.zone).date()
        remaining = seconds
        t = start
        for _ in range(3660):  # ten years of days: a calendar without business days must not loop forever
            if self.is_business_day(day):
                open_at, close_at = self.window(day)
                t = max(t, open_at)
                if t <= close_at:
                    if remaining <= close_at - t:
                        return t + remaining
                    remaining -= close_at - t
            day += dt.timedelta(days=1)
        raise ValueError("business calendar has no business hours")

    def business_seconds(self, start: float, end: float) -> float:
        """Business time elapsed between two instants (for measuring response times against targets)."""
        if end <= start:
            return 0.0
        day = dt.datetime.fromtimestamp(start, self.zone).date()
        last = dt.datetime.fromtimestamp(end, self.zone).date()
        total = 0.0
        while day <= last:
            if self.is_business_day(day):
                open_at, close_at = self.window(day)
                total += max(0.0, min(end, close_at) - max(start, open_at))
            day += dt.timedelta(days=1)
        return total


def parse_days(names: Iterable[str]) -> frozenset[int]:
    """Weekdays from names, comma lists and ranges: [mon, wed-fri], "sat,sun", fri-mon (wrapping
    round the week). A name is matched on its first three letters ("monday" is mon)."""
    days: set[int] = set()
    for name in names:
        for part in str(name).split(","):
            first, dash, last = part.partition("-")
            a = _day(first, name)
            b = _day(last, name) if dash else a
            days.update((a + k) % 7 for k in range((b - a) % 7 + 1))
    return frozenset(days)


_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day(text: str, whole: str) -> int:
    key = text.strip().lower()
    if len(key) < 3 or not any(full.startswith(key) for full in _FULL_NAMES):
        where = f" in {whole!r}" if key != str(whole).strip().lower() else ""
        raise ValueError(
            f"not a weekday: {text.strip()!r}{where} (use mon, tue, wed, thu, fri, sat, sun, or mon-fri)"
        )
    return DAY_NAMES.index(key[:3])


def parse_hours(text: str) -> tuple[dt.time, dt.time]:
    """ "09:00-17:00" -> (09:00, 17:00)."""
    try:
        a, b = (dt.time.fromisoformat(part.strip()) for part in str(text).split("-"))
    except ValueError:
        raise ValueError(f"expected hours like 09:00-17:00, not {text!r}") from None
    if a >= b:
        raise ValueError(f"hours must start before they end: {text!r}")
    return a, b
