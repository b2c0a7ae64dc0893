"""SLA clocks on business-hours calendars: weekends, holidays and DST, with literal instants."""

from __future__ import annotations

import datetime as dt

import pytest

from watchd.core.businesshours import BusinessCalendar, parse_days, parse_hours

UTC = dt.UTC
H = 3600.0
BERLIN = BusinessCalendar(holidays=frozenset({dt.date(2026, 12, 25), dt.date(2026, 12, 31)}))


def t(*args: int) -> float:
    return dt.datetime(*args, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("start", "seconds", "expected"),
    [
        (t(2026, 11, 23, 9, 0), 1 * H, t(2026, 11, 23, 10, 0)),  # Mon 10:00 CET -> 11:00 CET
        (t(2026, 11, 23, 6, 0), 1 * H, t(2026, 11, 23, 9, 0)),  # before opening: clock starts at 09:00 CET
        (t(2026, 11, 27, 15, 0), 2 * H, t(2026, 11, 30, 9, 0)),  # Fri 16:00 CET + 2h -> Mon 10:00 CET
        (t(2026, 11, 28, 12, 0), 8 * H, t(2026, 11, 30, 16, 0)),  # Sat: a full business day from Mon 09:00
        (t(2026, 11, 23, 16, 0), 0.0, t(2026, 11, 23, 16, 0)),  # exactly at closing, zero time
        (t(2026, 12, 24, 15, 0), 16 * H, t(2026, 12, 29, 15, 0)),  # Thu 16:00, Fri 25 is a holiday
        (t(2026, 3, 27, 15, 0), 2 * H, t(2026, 3, 30, 8, 0)),  # over the spring DST change (CET -> CEST)
        (t(2026, 10, 23, 14, 0), 4 * H, t(2026, 10, 26, 11, 0)),  # over the autumn change (CEST -> CET)
    ],
    ids=[
        "same-day",
        "before-opening",
        "over-weekend",
        "from-saturday",
        "zero",
        "holiday",
        "dst-spring",
        "dst-autumn",
    ],
)
def test_add(start: float, seconds: float, expected: float) -> None:
    """Business time stops outside 09:00-17:00 Berlin, on weekends and on holidays, and follows DST."""
    assert BERLIN.add(start, seconds) == expected


def test_only_listed_days_are_holidays() -> None:
    """Wed 30 Dec 16:00 CET + 2h: one hour on Wed, Thu 31 is listed as a holiday, Fri 1 Jan is not
    listed, so the deadline is Fri 1 Jan 10:00 CET."""
    assert BERLIN.add(t(2026, 12, 30, 15, 0), 2 * H) == t(2027, 1, 1, 9, 0)


def test_business_seconds_inverts_add() -> None:
    """Measured business time between start and add(start, x) is x."""
    start = t(2026, 11, 27, 15, 30)
    for hours in (0.5, 1, 3, 8, 17, 40):
        end = BERLIN.add(start, hours * H)
        assert BERLIN.business_seconds(start, end) == pytest.approx(hours * H)


def test_calendar_without_business_days_raises() -> None:
    """A calendar that is never open cannot compute a deadline; it says so instead of looping."""
    with pytest.raises(ValueError, match="no business hours"):
        BusinessCalendar(days=frozenset()).add(t(2026, 1, 1), H)


def test_other_zone_and_days() -> None:
    """Calendars are zone-aware: 08:00-12:00 Stockholm, Saturdays too."""
    cal = BusinessCalendar("Europe/Stockholm", parse_days(["mon", "Saturday"]), *parse_hours("08:00-12:00"))
    assert cal.add(t(2026, 11, 24, 12, 0), 1 * H) == t(2026, 11, 28, 8, 0)  # Tue -> Sat 09:00 CET


@pytest.mark.parametrize("bad", ["9-17", "17:00-09:00", "nine-five"])
def test_parse_hours_rejects(bad: str) -> None:
    """Hours must be HH:MM-HH:MM with start before end."""
    with pytest.raises(ValueError, match="hours"):
        parse_hours(bad)
