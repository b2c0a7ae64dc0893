"""Customer service availability from a real console history: outages, maintenance, overlapping
members, time not measured, and the 90-day bars in the customer's zone across a DST change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from watchd.console import availability as ca
from watchd.console.config import Customer, Service
from watchd.console.view import FleetView
from watchd.core import sla
from watchd.reports import availability as av

from .recorder import DAY, HOUR, MIN, Recorder

BERLIN = "Europe/Berlin"
NOV_START, NOV_END = av.month_period("2026-11", BERLIN)
AFTER = NOV_END + HOUR  # the month is over
SEEN = NOV_START - 10 * DAY  # the console knew the checks well before November
T = NOV_START + 10 * DAY + 9 * HOUR  # some morning in the month


@pytest.fixture
def rec(tmp_path: Path) -> Recorder:
    return Recorder(tmp_path / "console.db")


def service(*members: str, name: str = "Website") -> Service:
    return Service(name, tuple((m.partition(":")[0], m.partition(":")[2] or "*") for m in members))


def nov(rec: Recorder, svc: Service, now: float = AFTER) -> sla.Availability:
    return ca.service_availability(rec.db, svc, NOV_START, NOV_END, now)


def test_a_43_minute_outage_in_a_30_day_month_is_99_90_percent(rec: Recorder) -> None:
    assert NOV_END - NOV_START == 30 * DAY
    rec.state("web-1", "http", SEEN, "OK")
    rec.state("web-1", "http", T, "CRITICAL", "CRITICAL")
    rec.state("web-1", "http", T + 43 * MIN, "OK")
    a = nov(rec, service("web-1:http"))
    assert a.down_s == 43 * MIN
    assert a.outages == ((T, T + 43 * MIN),)
    assert a.unknown_s == 0
    assert a.excluded_s == 0
    assert round(a.availability * 100, 2) == 99.90  # type: ignore[operator]
    assert a.verdict(99.9) is sla.Verdict.MET  # 43 of the allowed 43.2 minutes
    rec.outage("web-1", "http", T + DAY, T + DAY + MIN)
    assert nov(rec, service("web-1:http")).verdict(99.9) is sla.Verdict.MISSED


def test_soft_states_and_warning_are_up_unknown_is_down(rec: Recorder) -> None:
    rec.state("web-1", "http", SEEN, "OK")
    rec.state("web-1", "http", T, "OK", soft="CRITICAL")  # not confirmed yet
    rec.state("web-1", "http", T + HOUR, "WARNING")
    rec.state("web-1", "http", T + 2 * HOUR, "UNKNOWN")
    rec.state("web-1", "http", T + 2 * HOUR + 10 * MIN, "OK")
    assert nov(rec, service("web-1:http")).down_s == 10 * MIN


def test_maintenance_of_the_host_is_excluded_not_down(rec: Recorder) -> None:
    rec.state("web-1", "http", SEEN, "OK")
    rec.outage("web-1", "http", T, T + HOUR)
    rec.maintenance("web-1", T - 30 * MIN, T + 30 * MIN)  # the whole host
    a = nov(rec, service("web-1:http"))
    assert a.down_s == 30 * MIN
    assert a.excluded_s == HOUR
    assert a.agreed_s == 30 * DAY - HOUR
    assert a.availability == pytest.approx(1 - 30 * MIN / (30 * DAY - HOUR))


def test_maintenance_of_another_check_or_host_does_not_exclude(rec: Recorder) -> None:
    rec.state("web-1", "http", SEEN, "OK")
    rec.outage("web-1", "http", T, T + HOUR)
    rec.maintenance("web-1", T, T + HOUR, checks=["disk", "load"])
    rec.maintenance("web-2", T, T + HOUR)
    a = nov(rec, service("web-1:http"))
    assert (a.down_s, a.excluded_s) == (HOUR, 0)
    rec.maintenance("web-1", T, T + 20 * MIN, checks=["disk", "http"])
    assert nov(rec, service("web-1:http")).down_s == 40 * MIN


def test_overlapping_outages_of_two_members_count_once(rec: Recorder) -> None:
    for host in ("web-1", "web-2"):
        rec.state(host, "http", SEEN, "OK")
    rec.outage("web-1", "http", T, T + 30 * MIN)
    rec.outage("web-2", "http", T + 20 * MIN, T + 50 * MIN)
    rec.state("db-1", "pgsql", SEEN, "OK")
    rec.outage("db-1", "pgsql", T, T + 5 * HOUR)  # not a member
    a = nov(rec, service("web-*:http"))
    assert a.down_s == 50 * MIN
    assert a.outages == ((T, T + 50 * MIN),)


def test_a_member_in_maintenance_has_no_say_all_in_maintenance_is_excluded(rec: Recorder) -> None:
    for host in ("web-1", "web-2"):
        rec.state(host, "http", SEEN, "OK")
    rec.outage("web-1", "http", T, T + HOUR)
    rec.maintenance("web-1", T, T + HOUR)
    a = nov(rec, service("web-*:http"))
    assert (a.down_s, a.excluded_s, a.unknown_s) == (0, 0, 0)  # web-2 carried it
    rec.maintenance("web-2", T, T + 15 * MIN)
    a = nov(rec, service("web-*:http"))
    assert (a.down_s, a.excluded_s) == (0, 15 * MIN)


def test_a_service_never_seen_is_not_measured(rec: Recorder) -> None:
    rec.state("web-1", "http", SEEN, "OK")
    a = nov(rec, service("shop-*:https", name="Shop"))
    assert a.availability is None
    assert a.up_s == a.down_s == 0
    assert a.unknown_s == 30 * DAY
    assert a.verdict(99.9) is sla.Verdict.NO_DATA


def test_before_the_console_first_saw_a_check_is_not_measured(rec: Recorder) -> None:
    first = NOV_START + 20 * DAY
    rec.state("web-1", "http", first, "OK")
    rec.outage("web-1", "http", first + DAY, first + DAY + 6 * MIN)
    a = nov(rec, service("web-1:http"))
    assert a.unknown_s == 20 * DAY
    assert a.measured_s == 10 * DAY
    assert a.availability == pytest.approx(1 - 6 * MIN / (10 * DAY))
    assert a.availability_min == pytest.approx((10 * DAY - 6 * MIN) / (30 * DAY))


def test_a_member_known_only_to_the_live_view_is_not_measured(rec: Recorder) -> None:
    rec.state("web-1", "http", SEEN, "OK")
    view = FleetView()
    view.state("web-2", "http", {"schema": "watchd.state/v1", "hard_state": "OK", "state": "OK"}, T)
    assert ca.known_checks(rec.db) == [("web-1", "http")]
    assert ca.known_checks(rec.db, view) == [("web-1", "http"), ("web-2", "http")]
    svc = service("web-*:http")
    a = ca.service_availability(rec.db, svc, NOV_START, NOV_END, AFTER, view=view)
    assert a.availability is None  # web-2 might have been down all month


def test_an_offline_host_is_not_measured_but_a_down_member_still_counts(rec: Recorder) -> None:
    for host in ("web-1", "web-2"):
        rec.host(host, SEEN, True)
        rec.state(host, "http", SEEN, "OK")
    rec.host("web-1", T, False, "lost")
    rec.host("web-1", T + 2 * HOUR, True)
    rec.outage("web-2", "http", T + HOUR, T + HOUR + 10 * MIN)
    a = nov(rec, service("web-*:http"))
    assert a.down_s == 10 * MIN  # web-2's outage is down whatever web-1 did
    assert a.unknown_s == 2 * HOUR - 10 * MIN
    one = nov(rec, service("web-1:http"))
    assert (one.down_s, one.unknown_s) == (0, 2 * HOUR)


def test_a_running_month_counts_until_now(rec: Recorder) -> None:
    rec.state("web-1", "http", SEEN, "OK")
    rec.state("web-1", "http", T, "CRITICAL")  # still down
    a = nov(rec, service("web-1:http"), now=T + 10 * MIN)
    assert a.down_s == 10 * MIN
    assert a.elapsed_s == T + 10 * MIN - NOV_START
    assert not a.complete


# -- day bars -----------------------------------------------------------------------------------------


def berlin(*args: int) -> float:
    return dt.datetime(*args, tzinfo=ZoneInfo(BERLIN)).timestamp()


def test_day_bars_follow_the_customers_days_across_the_end_of_summer_time(rec: Recorder) -> None:
    """2026-10-25 in Berlin has 25 hours; an outage over local midnight is split between two bars."""
    web = service("web-1:http")
    customer = Customer("acme", "ACME", ("web-*",), (web, service("shop-1:https", name="Shop")), 99.9, BERLIN)
    rec.state("web-1", "http", berlin(2026, 10, 1), "OK")
    rec.outage("web-1", "http", berlin(2026, 10, 25, 2, 30), berlin(2026, 10, 25, 3, 30))  # 2 h wall clock
    rec.outage("web-1", "http", berlin(2026, 10, 26, 23, 30), berlin(2026, 10, 27, 0, 30))
    now = berlin(2026, 10, 27, 12, 0)
    bars = ca.uptime_days(rec.db, customer, now, days=5)
    assert list(bars) == ["Website", "Shop"]
    days = bars["Website"]
    assert [b.date for b in days] == [dt.date(2026, 10, d) for d in (23, 24, 25, 26, 27)]
    by_date = {b.date.day: b for b in days}
    sunday = by_date[25].availability
    assert sunday.end - sunday.start == 25 * HOUR
    assert sunday.down_s == 2 * HOUR  # 02:30 CEST to 03:30 CET
    assert by_date[25].level == "major"
    assert by_date[26].availability.start == berlin(2026, 10, 26)
    assert by_date[26].availability.down_s == 30 * MIN
    assert by_date[27].availability.down_s == 30 * MIN
    assert by_date[27].availability.elapsed_s == 12 * HOUR  # today, so far
    assert by_date[23].level == "ok"
    assert by_date[23].availability.availability == 1.0
    assert [b.level for b in bars["Shop"]] == ["nodata"] * 5


def test_a_day_all_in_maintenance_is_a_maintenance_bar(rec: Recorder) -> None:
    web = service("web-1:http")
    customer = Customer("acme", "ACME", (), (web,), 99.9, BERLIN)
    rec.state("web-1", "http", berlin(2026, 10, 1), "OK")
    rec.maintenance("web-1", berlin(2026, 10, 20), berlin(2026, 10, 21))
    [bar] = [b for b in ca.uptime_days(rec.db, customer, berlin(2026, 10, 22, 8, 0), 3)["Website"]
             if b.date.day == 20]  # fmt: skip
    assert bar.level == "maintenance"


def test_housekeeping_keeps_the_state_a_stable_check_has_been_in(rec: Recorder) -> None:
    """A check OK for longer than history_days is still measured after rollup drops old rows."""
    long_ago = NOV_START - 500 * DAY
    rec.host("web-1", long_ago, True)
    rec.state("web-1", "http", long_ago, "CRITICAL")
    rec.state("web-1", "http", long_ago + HOUR, "OK")
    rec.host("web-2", long_ago, True)
    rec.state("web-2", "http", long_ago, "OK")
    rec.host("web-2", long_ago + DAY, False, "shutdown")  # and never back
    rec.outage("web-1", "http", T, T + 43 * MIN)
    rec.history.rollup(AFTER, raw_days=2, days=35, history_days=400)
    rows = rec.db.execute("SELECT host, at, hard_state FROM state_changes ORDER BY host, at").fetchall()
    assert rows == [
        ("web-1", long_ago + HOUR, "OK"), ("web-1", T, "CRITICAL"), ("web-1", T + 43 * MIN, "OK"),
        ("web-2", long_ago, "OK"),
    ]  # fmt: skip
    a = nov(rec, service("web-1:http"))
    assert (a.down_s, a.unknown_s) == (43 * MIN, 0)
    assert nov(rec, service("web-2:http")).availability is None  # still offline
