"""watchd.sla with literal timelines: pure functions, no store, no loop."""

from __future__ import annotations

import datetime as dt

import pytest

from watchd.core import sla
from watchd.core.model import State
from watchd.core.priority import PriorityPolicy
from watchd.core.sla import CheckTimeline, IncidentTimes, TargetStatus

OK, WARN, CRIT, UNK = State.OK, State.WARNING, State.CRITICAL, State.UNKNOWN
MIN = 60.0
HOUR = 3600.0
DAY = 86400.0


def t(text: str) -> float:
    """'2026-11-03 02:00' as UTC epoch seconds."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


NOV = (t("2026-11-01 00:00"), t("2026-12-01 00:00"))  # 30 days
ALWAYS = [(t("2026-01-01 00:00"), t("2027-01-01 00:00"))]  # monitored all the time
AFTER = t("2027-01-01 00:00")  # a `now` after the period: the report is complete


# -- interval arithmetic ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param([], [], id="empty"),
        pytest.param([(5, 5), (7, 6)], [], id="empty-and-backwards-dropped"),
        pytest.param([(3, 4), (1, 2)], [(1, 2), (3, 4)], id="sorted"),
        pytest.param([(1, 3), (2, 4)], [(1, 4)], id="overlap-merged"),
        pytest.param([(1, 2), (2, 3)], [(1, 3)], id="touching-merged"),
        pytest.param([(1, 10), (2, 3)], [(1, 10)], id="contained"),
    ],
)
def test_normalize(given: list, expected: list) -> None:
    """Intervals come out sorted, non-empty and merged."""
    assert sla.normalize(given) == expected


def test_set_operations() -> None:
    """intersect, subtract, complement and union on half-open intervals."""
    a = [(0, 10), (20, 30)]
    b = [(5, 25)]
    assert sla.intersect(a, b) == [(5, 10), (20, 25)]
    assert sla.subtract(a, b) == [(0, 5), (25, 30)]
    assert sla.subtract(b, a) == [(10, 20)]
    assert sla.complement(a, -5, 40) == [(-5, 0), (10, 20), (30, 40)]
    assert sla.complement([], 0, 1) == [(0, 1)]
    assert sla.union(a, b) == [(0, 30)]
    assert sla.intersect_all([a, b, [(0, 6)]]) == [(5, 6)]
    assert sla.intersect_all([]) == []
    assert sla.total([(0, 10), (5, 15)]) == 15


# -- hard-state timelines -----------------------------------------------------------------------------

S, E = t("2026-11-10 00:00"), t("2026-11-11 00:00")


@pytest.mark.parametrize(
    ("transitions", "initial", "down_states", "expected"),
    [
        pytest.param([], OK, sla.DEFAULT_DOWN_STATES, [], id="always-ok"),
        pytest.param([], CRIT, sla.DEFAULT_DOWN_STATES, [(S, E)], id="critical-all-along"),
        pytest.param(
            [(t("2026-11-09 22:00"), CRIT), (t("2026-11-10 01:00"), OK)],
            OK,
            sla.DEFAULT_DOWN_STATES,
            [(S, t("2026-11-10 01:00"))],
            id="outage-crossing-the-start",
        ),
        pytest.param(
            [(t("2026-11-10 23:00"), CRIT), (t("2026-11-11 02:00"), OK)],
            OK,
            sla.DEFAULT_DOWN_STATES,
            [(t("2026-11-10 23:00"), E)],
            id="outage-crossing-the-end",
        ),
        pytest.param(
            [(t("2026-11-10 10:00"), WARN), (t("2026-11-10 11:00"), OK)],
            OK,
            sla.DEFAULT_DOWN_STATES,
            [],
            id="warning-is-up-by-default",
        ),
        pytest.param(
            [(t("2026-11-10 10:00"), WARN), (t("2026-11-10 11:00"), OK)],
            OK,
            frozenset({WARN, CRIT, UNK}),
            [(t("2026-11-10 10:00"), t("2026-11-10 11:00"))],
            id="warning-down-when-configured",
        ),
        pytest.param(
            [(t("2026-11-10 10:00"), UNK), (t("2026-11-10 10:30"), OK)],
            OK,
            sla.DEFAULT_DOWN_STATES,
            [(t("2026-11-10 10:00"), t("2026-11-10 10:30"))],
            id="unknown-is-down-by-default",
        ),
        pytest.param(
            [(t("2026-11-10 10:00"), UNK), (t("2026-11-10 10:30"), OK)],
            OK,
            frozenset({CRIT}),
            [],
            id="unknown-up-when-configured",
        ),
        pytest.param(
            [(t("2026-11-10 10:00"), CRIT), (t("2026-11-10 10:20"), UNK), (t("2026-11-10 10:30"), OK)],
            OK,
            sla.DEFAULT_DOWN_STATES,
            [(t("2026-11-10 10:00"), t("2026-11-10 10:30"))],
            id="critical-then-unknown-is-one-outage",
        ),
        pytest.param(
            [(t("2026-11-10 10:00"), CRIT), (t("2026-11-10 10:20"), WARN), (t("2026-11-10 10:30"), OK)],
            OK,
            sla.DEFAULT_DOWN_STATES,
            [(t("2026-11-10 10:00"), t("2026-11-10 10:20"))],
            id="critical-to-warning-ends-the-outage",
        ),
        pytest.param(
            [(t("2026-11-10 10:00"), CRIT), (t("2026-11-10 10:00"), OK)],
            OK,
            sla.DEFAULT_DOWN_STATES,
            [],
            id="same-instant-last-wins",
        ),
        pytest.param(
            [(t("2026-11-12 10:00"), CRIT)], OK, sla.DEFAULT_DOWN_STATES, [], id="after-the-period-ignored"
        ),
        pytest.param(
            [(t("2026-11-01 10:00"), CRIT)], OK, sla.DEFAULT_DOWN_STATES, [(S, E)], id="before-sets-initial"
        ),
    ],
)
def test_down_intervals(transitions: list, initial: State, down_states: frozenset, expected: list) -> None:
    """Down while the hard state is a down state, clipped to the period."""
    assert sla.down_intervals(transitions, S, E, down_states, initial) == expected


# -- accounting ---------------------------------------------------------------------------------------


def test_a_clean_month() -> None:
    """No outage: 100 %; 99.9 % of 30 days allows 43.2 minutes, all of it left."""
    a = sla.account([], [], ALWAYS, *NOV, AFTER)
    assert a.availability == 1.0
    assert a.allowed_down_s(99.9) == pytest.approx(43.2 * MIN)
    assert a.budget_left_s(99.9) == pytest.approx(43.2 * MIN)
    assert a.met(99.9) is True
    assert (a.elapsed_s, a.agreed_s, a.unknown_s, a.excluded_s) == (30 * DAY, 30 * DAY, 0, 0)


def test_ten_minutes_down() -> None:
    """A 10-minute outage: 99.977 %, 33.2 minutes of budget left, target met."""
    out = [(t("2026-11-03 02:00"), t("2026-11-03 02:10"))]
    a = sla.account(out, [], ALWAYS, *NOV, AFTER)
    assert a.down_s == 10 * MIN
    assert a.availability == pytest.approx(1 - 10 / (30 * 24 * 60))
    assert a.budget_left_s(99.9) == pytest.approx(33.2 * MIN)
    assert a.met(99.9) is True
    assert a.outages == tuple(out)


def test_an_hour_down_breaks_99_9() -> None:
    """60 minutes down exceeds the 43.2 allowed: budget negative, target missed."""
    a = sla.account([(t("2026-11-03 02:00"), t("2026-11-03 03:00"))], [], ALWAYS, *NOV, AFTER)
    assert a.budget_left_s(99.9) == pytest.approx(-16.8 * MIN)
    assert a.met(99.9) is False
    assert a.met(99.8) is True


def test_outage_crossing_the_period_boundaries() -> None:
    """Only the part inside the period counts, at both ends."""
    down = [(t("2026-10-31 23:00"), t("2026-11-01 00:30")), (t("2026-11-30 23:50"), t("2026-12-01 05:00"))]
    a = sla.account(down, [], ALWAYS, *NOV, AFTER)
    assert a.down_s == 40 * MIN
    assert a.outages == ((NOV[0], t("2026-11-01 00:30")), (t("2026-11-30 23:50"), NOV[1]))


def test_maintenance_overlapping_an_outage() -> None:
    """Down time inside maintenance is excluded, not down; agreed time shrinks by the maintenance."""
    down = [(t("2026-11-03 02:00"), t("2026-11-03 03:00"))]
    maint = [(t("2026-11-03 02:30"), t("2026-11-03 04:00"))]
    a = sla.account(down, maint, ALWAYS, *NOV, AFTER)
    assert a.down_s == 30 * MIN
    assert a.excluded_s == 90 * MIN
    assert a.agreed_s == 30 * DAY - 90 * MIN
    assert a.up_s == 30 * DAY - 90 * MIN - 30 * MIN
    assert a.allowed_down_s(99.9) == pytest.approx((30 * DAY - 90 * MIN) * 0.001)


def test_maintenance_crossing_the_period_start() -> None:
    """Only the part of a window inside the period is excluded."""
    maint = [(t("2026-10-31 22:00"), t("2026-11-01 02:00"))]
    a = sla.account([], maint, ALWAYS, *NOV, AFTER)
    assert a.excluded_s == 2 * HOUR


def test_daemon_gap_is_unknown_not_up() -> None:
    """While the daemon did not run, time is unknown: neither up nor down, and a last-known
    CRITICAL in the gap does not count as down."""
    gap = (t("2026-11-10 00:00"), t("2026-11-11 00:00"))
    monitored = [(NOV[0], gap[0]), (gap[1], NOV[1])]
    down = [(t("2026-11-09 23:00"), t("2026-11-11 01:00"))]  # critical across the whole gap
    a = sla.account(down, [], monitored, *NOV, AFTER)
    assert a.unknown_s == DAY
    assert a.down_s == 2 * HOUR
    assert a.up_s == 29 * DAY - 2 * HOUR
    assert a.availability == pytest.approx(1 - 2 * HOUR / (29 * DAY))
    assert a.availability_min == pytest.approx((29 * DAY - 2 * HOUR) / (30 * DAY))
    assert a.outages == ((t("2026-11-09 23:00"), gap[0]), (gap[1], t("2026-11-11 01:00")))


def test_maintenance_wins_over_a_daemon_gap() -> None:
    """Maintenance during a gap is excluded (planned), not unknown."""
    gap = (t("2026-11-10 00:00"), t("2026-11-10 06:00"))
    a = sla.account([], [gap], [(NOV[0], gap[0]), (gap[1], NOV[1])], *NOV, AFTER)
    assert (a.excluded_s, a.unknown_s) == (6 * HOUR, 0)


def test_before_the_daemon_ever_ran() -> None:
    """Time before the first run of the daemon is unknown."""
    a = sla.account([], [], [(t("2026-11-16 00:00"), AFTER)], *NOV, AFTER)
    assert a.unknown_s == 15 * DAY
    assert a.availability == 1.0
    assert a.availability_min == 0.5


def test_running_month_counts_only_elapsed_time() -> None:
    """Mid-month: figures cover the elapsed part; the allowed downtime is the whole month's."""
    now = t("2026-11-16 00:00")
    a = sla.account([(t("2026-11-03 02:00"), t("2026-11-03 02:10"))], [], ALWAYS, *NOV, now)
    assert a.elapsed_s == 15 * DAY
    assert a.up_s + a.down_s == 15 * DAY
    assert a.availability == pytest.approx(1 - 10 / (15 * 24 * 60))
    assert a.allowed_down_s(99.9) == pytest.approx(43.2 * MIN)


MINUTES_IN = [(t("2026-11-20 10:00"), t("2026-11-20 10:10"))]  # monitoring started ten minutes ago


@pytest.mark.parametrize(
    ("down", "monitored", "now", "verdict"),
    [
        pytest.param([(t("2026-11-20 10:01"), t("2026-11-20 10:09"))], MINUTES_IN, t("2026-11-20 10:10"),
                     sla.Verdict.AT_RISK, id="minutes-of-data-mostly-down-is-at-risk"),
        pytest.param([], MINUTES_IN, t("2026-11-20 10:10"), sla.Verdict.ON_TRACK, id="minutes-all-up"),
        pytest.param([(t("2026-11-03 02:00"), t("2026-11-03 02:10"))], ALWAYS, t("2026-11-16 00:00"),
                     sla.Verdict.ON_TRACK, id="mid-month-within-budget"),
        pytest.param([(t("2026-11-03 02:00"), t("2026-11-03 02:43"))], ALWAYS, t("2026-11-03 03:00"),
                     sla.Verdict.AT_RISK, id="43-min-spent-early-still-open"),
        pytest.param([(t("2026-11-03 02:00"), t("2026-11-03 02:44"))], ALWAYS, t("2026-11-03 03:00"),
                     sla.Verdict.MISSED, id="budget-of-the-whole-month-spent"),
        pytest.param([(t("2026-11-03 02:00"), t("2026-11-03 02:10"))], ALWAYS, AFTER,
                     sla.Verdict.MET, id="complete-on-target"),
        pytest.param([(t("2026-11-20 10:01"), t("2026-11-20 10:09"))], MINUTES_IN, AFTER,
                     sla.Verdict.MISSED, id="complete-below-target-on-little-data"),
        pytest.param([], [], t("2026-11-16 00:00"), sla.Verdict.NO_DATA, id="never-measured"),
    ],
)  # fmt: skip
def test_verdict_by_the_whole_periods_budget(
    down: list[sla.Interval], monitored: list[sla.Interval], now: float, verdict: sla.Verdict
) -> None:
    """Missed only once the whole month's budget is spent or the month is over below target."""
    assert sla.account(down, [], monitored, *NOV, now).verdict(99.9) is verdict


def test_future_maintenance_reduces_agreed_time_but_not_elapsed_figures() -> None:
    """Maintenance already planned later in the month shrinks the agreed time only."""
    now = t("2026-11-16 00:00")
    a = sla.account([], [(t("2026-11-20 00:00"), t("2026-11-20 06:00"))], ALWAYS, *NOV, now)
    assert (a.excluded_s, a.agreed_s) == (0, 30 * DAY - 6 * HOUR)


def test_period_not_started_yet() -> None:
    """Nothing elapsed: no availability figure at all."""
    a = sla.account([], [], ALWAYS, *NOV, t("2026-10-20 00:00"))
    assert (a.elapsed_s, a.availability, a.availability_min, a.met(99.9)) == (0, None, None, None)


def test_whole_period_in_maintenance() -> None:
    """All maintenance: nothing measured, nothing allowed."""
    a = sla.account([], [NOV], ALWAYS, *NOV, AFTER)
    assert (a.availability, a.agreed_s, a.allowed_down_s(99.9)) == (None, 0, 0)


# -- per check ----------------------------------------------------------------------------------------


def test_check_availability_from_a_timeline() -> None:
    """A check's timeline with an outage and its own maintenance."""
    tl = CheckTimeline(
        transitions=[(t("2026-11-05 10:00"), CRIT), (t("2026-11-05 10:45"), OK)],
        excluded=[(t("2026-11-05 10:30"), t("2026-11-05 11:00"))],
    )
    a = sla.check_availability(tl, ALWAYS, *NOV, AFTER)
    assert a.down_s == 30 * MIN
    assert a.excluded_s == 30 * MIN


# -- services -----------------------------------------------------------------------------------------

WEB_DOWN = CheckTimeline([(t("2026-11-05 10:00"), CRIT), (t("2026-11-05 11:00"), OK)])
DB_DOWN = CheckTimeline([(t("2026-11-05 10:30"), CRIT), (t("2026-11-05 12:00"), OK)])


def test_service_is_down_while_any_member_is_down() -> None:
    """Overlapping member outages are counted once (10:00-12:00)."""
    a = sla.service_availability({"web": WEB_DOWN, "db": DB_DOWN}, ALWAYS, *NOV, AFTER)
    assert a.down_s == 2 * HOUR
    assert a.outages == ((t("2026-11-05 10:00"), t("2026-11-05 12:00")),)


def test_member_down_in_its_own_maintenance_does_not_take_the_service_down() -> None:
    """db in its own maintenance is not down for the service, nor is the service excluded."""
    db = CheckTimeline(DB_DOWN.transitions, excluded=[(t("2026-11-05 10:00"), t("2026-11-05 12:00"))])
    a = sla.service_availability([WEB_DOWN, db], ALWAYS, *NOV, AFTER)
    assert a.down_s == HOUR  # web only
    assert a.excluded_s == 0


def test_service_excluded_only_while_every_member_is_in_maintenance() -> None:
    """The service is excluded where all members' windows overlap, and there only."""
    web = CheckTimeline(WEB_DOWN.transitions, excluded=[(t("2026-11-05 09:00"), t("2026-11-05 10:30"))])
    db = CheckTimeline(DB_DOWN.transitions, excluded=[(t("2026-11-05 10:00"), t("2026-11-05 11:30"))])
    a = sla.service_availability([web, db], ALWAYS, *NOV, AFTER)
    assert a.excluded_s == 30 * MIN  # 10:00-10:30
    # web counts 10:30-11:00, db 11:30-12:00 (its window covers 10:30-11:30)
    assert a.down_s == HOUR


def test_service_wide_window() -> None:
    """A window for the service itself excludes it whatever its members do."""
    a = sla.service_availability(
        [WEB_DOWN],
        ALWAYS,
        *NOV,
        AFTER,
        service_excluded=[(t("2026-11-05 10:00"), t("2026-11-05 10:30"))],
    )
    assert (a.down_s, a.excluded_s) == (30 * MIN, 30 * MIN)


def test_service_with_gap_and_members() -> None:
    """A daemon gap is unknown for the service as a whole."""
    monitored = [(NOV[0], t("2026-11-05 10:15")), (t("2026-11-05 10:45"), NOV[1])]
    a = sla.service_availability([WEB_DOWN, DB_DOWN], monitored, *NOV, AFTER)
    assert a.unknown_s == 30 * MIN
    assert a.down_s == 90 * MIN


# -- incidents against their targets --------------------------------------------------------------------

POLICY = PriorityPolicy()  # P1 30 min / 4 h 24x7; P2 1 h / 8 business hours (Mon-Fri 9-17 Berlin)


def inc(priority: str, opened: str, **times: str | None) -> IncidentTimes:
    args = {k: (t(v) if v else None) for k, v in times.items()}
    return IncidentTimes(1, "web", priority, t(opened), **args)


@pytest.mark.parametrize(
    ("incident", "now", "response", "resolution"),
    [
        pytest.param(
            inc("P1", "2026-11-05 10:00", acked_at="2026-11-05 10:20", resolved_at="2026-11-05 15:00"),
            "2026-11-06 00:00",
            (TargetStatus.MET, 20 * MIN),
            (TargetStatus.BREACHED, 5 * HOUR),
            id="p1-acked-in-time-resolved-late",
        ),
        pytest.param(
            inc("P1", "2026-11-05 10:00"),
            "2026-11-05 10:10",
            (TargetStatus.PENDING, 10 * MIN),
            (TargetStatus.PENDING, 10 * MIN),
            id="p1-open-within-target",
        ),
        pytest.param(
            inc("P1", "2026-11-05 10:00"),
            "2026-11-05 10:40",
            (TargetStatus.BREACHED, 40 * MIN),
            (TargetStatus.PENDING, 40 * MIN),
            id="p1-open-past-response-target",
        ),
        pytest.param(
            inc(
                "P1", "2026-11-05 10:00", acked_at="2026-11-05 10:05", response_breached_at="2026-11-05 10:04"
            ),
            "2026-11-05 11:00",
            (TargetStatus.BREACHED, 5 * MIN),
            (TargetStatus.PENDING, HOUR),
            id="recorded-breach-wins",
        ),
        pytest.param(
            inc("P1", "2026-11-05 10:00", resolved_at="2026-11-05 10:10"),
            "2026-11-05 11:00",
            (TargetStatus.MET, 10 * MIN),
            (TargetStatus.MET, 10 * MIN),
            id="recovered-before-anyone-acked",
        ),
        pytest.param(
            # Friday 16:30 Berlin (15:30 UTC); Monday 09:20 Berlin (08:20 UTC): 30 + 20 business minutes
            inc("P2", "2026-11-06 15:30", acked_at="2026-11-09 08:20"),
            "2026-11-09 09:00",
            (TargetStatus.MET, 50 * MIN),
            (TargetStatus.PENDING, 90 * MIN),
            id="p2-business-clock-over-a-weekend",
        ),
        pytest.param(
            inc("P2", "2026-11-06 15:30", acked_at="2026-11-09 08:45"),
            "2026-11-09 09:00",
            (TargetStatus.BREACHED, 75 * MIN),
            (TargetStatus.PENDING, 90 * MIN),
            id="p2-business-clock-breached",
        ),
        pytest.param(
            inc("P4", "2026-11-05 10:00", acked_at="2026-11-05 11:00", resolved_at="2026-11-20 10:00"),
            "2026-11-21 00:00",
            (TargetStatus.MET, HOUR),
            (TargetStatus.NONE, None),
            id="p4-resolution-by-agreement",
        ),
        pytest.param(
            inc("P9", "2026-11-05 10:00"),
            "2026-11-05 11:00",
            (TargetStatus.NONE, HOUR),
            (TargetStatus.NONE, HOUR),
            id="unknown-priority-has-no-target",
        ),
    ],
)
def test_incident_targets(incident: IncidentTimes, now: str, response: tuple, resolution: tuple) -> None:
    """Response and resolution measured on the priority's clock against its targets."""
    r = sla.response(incident, POLICY, t(now))
    s = sla.resolution(incident, POLICY, t(now))
    assert r.status is response[0]
    assert r.taken_s == pytest.approx(response[1])
    assert s.status is resolution[0]
    if resolution[1] is not None:
        assert s.taken_s == pytest.approx(resolution[1])


def test_clock_seconds_unknown_calendar_falls_back_to_wall_time() -> None:
    """A clock name without a calendar is measured 24x7 rather than failing the report."""
    assert sla.clock_seconds(POLICY, "nope", 0.0, 100.0) == 100.0
    assert sla.clock_seconds(POLICY, "24x7", 100.0, 0.0) == 0.0
