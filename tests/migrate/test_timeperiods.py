"""Nagios time periods to watchd calendars: what maps, and what is reported."""

from __future__ import annotations

import datetime as dt

import pytest

from watchd.migrate.nagios_objects import resolve
from watchd.migrate.nagios_parse import parse_objects
from watchd.migrate.timeperiods import PeriodResult, expand_date, translate_period

WEEK = "".join(f"{d} 09:00-17:00\n" for d in ("monday", "tuesday", "wednesday", "thursday", "friday"))
ALL = "".join(
    f"{d} 00:00-24:00\n"
    for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
)


def period(body: str, extra: str = "") -> PeriodResult:
    o = resolve(parse_objects(f"define timeperiod {{\ntimeperiod_name p\n{body}}}\n{extra}", "t.cfg").objects)
    return translate_period("p", o.of("timeperiod")["p"], o.of("timeperiod"), (2026, 2027))


def test_workhours_become_a_calendar() -> None:
    """Mon-Fri 09:00-17:00 is a calendar with those days and hours."""
    r = period(WEEK)
    assert r.calendar is not None
    assert (r.calendar.days, r.calendar.hours, r.calendar.holidays) == (
        ("mon", "tue", "wed", "thu", "fri"),
        "09:00-17:00",
        (),
    )


def test_all_day_every_day_is_the_24x7_clock() -> None:
    """00:00-24:00 on all seven days, no exceptions: watchd's 24x7 clock, no calendar."""
    assert period(ALL).is_24x7


def test_holidays_from_exceptions_and_excluded_periods() -> None:
    """A day with 00:00-00:00, and whole days of an excluded period, become holiday dates."""
    r = period(
        WEEK + "december 25 00:00-00:00\nexclude hol\n",
        "define timeperiod {\ntimeperiod_name hol\n2026-05-01 00:00-24:00\nmonday -1 may 00:00-24:00\n}\n",
    )
    assert r.calendar is not None
    assert r.calendar.holidays == (
        dt.date(2026, 5, 1), dt.date(2026, 5, 25), dt.date(2026, 12, 25), dt.date(2027, 5, 31), dt.date(2027, 12, 25)  # noqa: E501
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("monday 09:00-17:00\nfriday 09:00-13:00\n", "different hours on different days"),
        ("monday 08:00-12:00,13:00-17:00\n", "splits the day"),
        ("", "has no weekly hours"),
    ],
    ids=["uneven-days", "split-day", "empty"],
)
def test_periods_that_do_not_map(body: str, why: str) -> None:
    """A period watchd cannot express is skipped with the reason."""
    r = period(body)
    assert r.calendar is None
    assert not r.is_24x7
    assert why in (r.skipped or "")


def test_exceptions_with_other_hours_are_left_out_with_a_note() -> None:
    """A date with different hours is not a holiday; the note says it was left out."""
    r = period(WEEK + "december 24 09:00-12:00\nday 15 00:00-00:00\n")
    assert r.calendar is not None
    assert r.calendar.holidays == ()
    assert len(r.notes) == 2


@pytest.mark.parametrize(
    ("spec", "dates"),
    [
        ("2026-07-04", [dt.date(2026, 7, 4)]),
        ("2026-12-30 - 2027-01-02", [dt.date(2026, 12, 30), dt.date(2026, 12, 31), dt.date(2027, 1, 1), dt.date(2027, 1, 2)]),  # noqa: E501
        ("january 1", [dt.date(2026, 1, 1), dt.date(2027, 1, 1)]),
        ("thursday 4 november", [dt.date(2026, 11, 26), dt.date(2027, 11, 25)]),
        ("monday 1 september", [dt.date(2026, 9, 7), dt.date(2027, 9, 6)]),
        ("monday -1 may", [dt.date(2026, 5, 25), dt.date(2027, 5, 31)]),
    ],
    ids=["iso", "iso-range", "month-day", "thanksgiving", "labor-day", "last-monday"],
)  # fmt: skip
def test_date_forms(spec: str, dates: list[dt.date]) -> None:
    """The date exception forms that name whole days, expanded over the given years."""
    assert expand_date(spec, (2026, 2027)) == (dates, None)
