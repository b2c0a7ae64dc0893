"""On-call rotations (watchd.core.oncall): hand-offs, restrictions, overrides, daylight saving.

Expected instants are written in UTC by hand (not computed the way the module does), so a wrong
zone rule shows up as a wrong number.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchd.core.oncall import (
    HORIZON,
    Layer,
    Override,
    Restriction,
    Rotation,
    Shift,
    next_shift,
    on_duty,
    schedule,
    targets_at,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = 3600.0
DAY = 86400.0
WORKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()  # type: ignore[misc]


def berlin(*args: int) -> float:
    """Only for times well away from a DST change (where the wall time is unambiguous)."""
    return dt.datetime(*args, tzinfo=BERLIN).timestamp()  # type: ignore[misc]


def weekly(members: tuple[str, ...] = ("alice", "bob", "carol")) -> Layer:
    """Monday 2026-11-30 09:00 Berlin on, a week each."""
    return Layer(
        "weekly", members, "Europe/Berlin", dt.datetime(2026, 11, 30, 9, 0, tzinfo=BERLIN), length_days=7
    )


def restricted(
    name: str,
    members: tuple[str, ...],
    start: dt.datetime,
    days: int,
    on: frozenset[int],
    begin: int,
    end: int,
) -> Layer:
    """A Europe/Berlin layer of `days` calendar days in force on days `on` from hour `begin` to `end`."""
    window = Restriction(on, dt.time(begin), dt.time(end))
    return Layer(name, members, "Europe/Berlin", start, length_days=days, restrictions=(window,))


def who(rot: Rotation, at: float) -> str | None:
    shift = on_duty(rot, at)
    return None if shift is None else shift.member


# -- plain hand-offs ---------------------------------------------------------------------------------


def test_weekly_rotation_of_three() -> None:
    """Monday 09:00 hand-offs in order, wrapping around; nobody before the layer starts."""
    rot = Rotation("primary", (weekly(),))
    assert on_duty(rot, berlin(2026, 11, 30, 8, 59)) is None
    assert on_duty(rot, berlin(2026, 12, 2, 3, 0)) == Shift(
        "alice", berlin(2026, 11, 30, 9), berlin(2026, 12, 7, 9), "weekly"
    )
    assert who(rot, berlin(2026, 12, 7, 8, 59)) == "alice"
    assert who(rot, berlin(2026, 12, 7, 9, 0)) == "bob"
    assert who(rot, berlin(2026, 12, 14, 9, 0)) == "carol"
    assert who(rot, berlin(2026, 12, 21, 9, 0)) == "alice"  # round again
    assert who(rot, berlin(2027, 6, 1, 12, 0)) == ["alice", "bob", "carol"][(182 // 7) % 3]
    nxt = next_shift(rot, berlin(2026, 12, 2, 3, 0))
    assert nxt == Shift("bob", berlin(2026, 12, 7, 9), berlin(2026, 12, 14, 9), "weekly")
    # Before the start, the next shift is the first one.
    assert next_shift(rot, berlin(2026, 11, 1)) == on_duty(rot, berlin(2026, 11, 30, 9))
    assert [s.member for s in schedule(rot, berlin(2026, 11, 1), berlin(2026, 12, 22))] == [
        "alice", "bob", "carol", "alice",
    ]  # fmt: skip


def test_daily_rotation() -> None:
    layer = Layer(
        "daily", ("alice", "bob"), "Europe/Berlin", dt.datetime(2026, 12, 1, 9, tzinfo=BERLIN), length_days=1
    )
    rot = Rotation("r", (layer,))
    assert on_duty(rot, berlin(2026, 12, 3, 20)) == Shift(
        "alice", berlin(2026, 12, 3, 9), berlin(2026, 12, 4, 9), "daily"
    )
    assert who(rot, berlin(2026, 12, 4, 9)) == "bob"
    days = schedule(rot, berlin(2026, 12, 1), berlin(2026, 12, 5))
    assert [(s.member, s.end - s.start) for s in days] == [
        ("alice", 24 * H), ("bob", 24 * H), ("alice", 24 * H), ("bob", 15 * H),  # the last one clipped
    ]  # fmt: skip
    assert days[0].start == berlin(2026, 12, 1, 9)


def test_three_day_layer_and_start_given_in_another_zone() -> None:
    """The hand-off wall time is the start's wall time in the layer's own zone."""
    start = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)  # 09:00 in Berlin
    rot = Rotation("r", (Layer("3d", ("a", "b"), "Europe/Berlin", start, length_days=3),))
    assert on_duty(rot, berlin(2026, 12, 5)) == Shift(
        "b", berlin(2026, 12, 4, 9), berlin(2026, 12, 7, 9), "3d"
    )


def test_twelve_hour_custom_layer() -> None:
    start = dt.datetime(2026, 12, 1, 7, 0, tzinfo=BERLIN)
    rot = Rotation("r", (Layer("12h", ("day", "night"), "Europe/Berlin", start, length_seconds=12 * H),))
    assert on_duty(rot, berlin(2026, 12, 1, 20)) == Shift(
        "night", berlin(2026, 12, 1, 19), berlin(2026, 12, 2, 7), "12h"
    )
    assert who(rot, berlin(2026, 12, 9, 7)) == "day"


def test_single_member_is_on_duty_until_further_notice() -> None:
    rot = Rotation("r", (weekly(("solo",)),))
    shift = on_duty(rot, berlin(2027, 1, 10))
    assert shift == Shift("solo", berlin(2026, 11, 30, 9), math.inf, "weekly")
    assert next_shift(rot, berlin(2027, 1, 10)) is None


def test_same_member_back_to_back_is_one_shift() -> None:
    """Two layers handing alice on to alice: one stretch, named by the layer at its start."""
    business = restricted(
        "business", ("alice",), dt.datetime(2026, 11, 30, 0, 0, tzinfo=BERLIN), 7, WORKDAYS, 8, 18
    )
    rot = Rotation("r", (weekly(), business))
    # Alice's 24/7 week and her business hours join: she is on duty from Monday 09:00 on, one shift.
    [first, *rest] = schedule(rot, berlin(2026, 11, 30), berlin(2026, 12, 14))
    assert first == Shift("alice", berlin(2026, 11, 30, 8), berlin(2026, 12, 7, 18), "business")
    assert rest[0] == Shift("bob", berlin(2026, 12, 7, 18), berlin(2026, 12, 8, 8), "weekly")
    assert on_duty(rot, berlin(2026, 12, 3, 23)) == first


# -- restrictions ------------------------------------------------------------------------------------


def test_business_hours_layer_over_a_24x7_layer() -> None:
    """Weekdays 08-18 the business layer is on duty; outside it the 24/7 layer shows through, and its
    member's stretch ends where business hours begin."""
    business = restricted(
        "business", ("dave", "erin"), dt.datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN), 1, WORKDAYS, 8, 18
    )
    rot = Rotation("r", (weekly(), business))
    assert on_duty(rot, berlin(2026, 12, 1, 10)) == Shift(
        "erin", berlin(2026, 12, 1, 8), berlin(2026, 12, 1, 18), "business"
    )
    assert on_duty(rot, berlin(2026, 12, 1, 20)) == Shift(
        "alice", berlin(2026, 12, 1, 18), berlin(2026, 12, 2, 8), "weekly"
    )
    assert next_shift(rot, berlin(2026, 12, 1, 20)) == Shift(
        "dave", berlin(2026, 12, 2, 8), berlin(2026, 12, 2, 18), "business"
    )
    # The weekend is all the 24/7 layer's: alice from Friday 18:00 to her hand-off on Monday 09:00,
    # where bob takes over (at 08:00 the business layer had already begun: dave, Monday being day 7).
    assert on_duty(rot, berlin(2026, 12, 5, 12)) == Shift(
        "alice", berlin(2026, 12, 4, 18), berlin(2026, 12, 7, 8), "weekly"
    )
    assert who(rot, berlin(2026, 12, 7, 8)) == "erin"


def test_night_restriction_crossing_midnight() -> None:
    """fri 22:00-06:00 belongs to Friday: it covers Saturday 03:00 but not Saturday 23:00."""
    night = restricted(
        "night", ("owl",), dt.datetime(2026, 11, 30, 0, 0, tzinfo=BERLIN), 7, frozenset({4}), 22, 6
    )
    rot = Rotation("r", (night,))
    assert on_duty(rot, berlin(2026, 12, 5, 3)) == Shift(
        "owl", berlin(2026, 12, 4, 22), berlin(2026, 12, 5, 6), "night"
    )
    assert on_duty(rot, berlin(2026, 12, 4, 21, 59)) is None
    assert on_duty(rot, berlin(2026, 12, 5, 23)) is None
    assert next_shift(rot, berlin(2026, 12, 5, 23)) == Shift(
        "owl", berlin(2026, 12, 11, 22), berlin(2026, 12, 12, 6), "night"
    )
    # The first Friday night is clipped by nothing, the layer started on Monday.
    assert [s.start for s in schedule(rot, berlin(2026, 11, 30), berlin(2026, 12, 12))] == [
        berlin(2026, 12, 4, 22), berlin(2026, 12, 11, 22)
    ]  # fmt: skip


def test_restriction_before_layer_start_does_not_open_it() -> None:
    night = restricted("night", ("owl",), dt.datetime(2026, 12, 5, 2, 0, tzinfo=BERLIN), 1, EVERY_DAY, 22, 6)
    rot = Rotation("r", (night,))
    assert on_duty(rot, berlin(2026, 12, 5, 1)) is None
    assert on_duty(rot, berlin(2026, 12, 5, 3)) == Shift(
        "owl", berlin(2026, 12, 5, 2), berlin(2026, 12, 5, 6), "night"
    )


# -- overrides ---------------------------------------------------------------------------------------


def test_override_covering_part_of_a_shift() -> None:
    cover = Override("dave", berlin(2026, 12, 2, 12), berlin(2026, 12, 2, 14))
    rot = Rotation("r", (weekly(),), (cover,))
    assert on_duty(rot, berlin(2026, 12, 2, 11)) == Shift(
        "alice", berlin(2026, 11, 30, 9), berlin(2026, 12, 2, 12), "weekly"
    )
    assert next_shift(rot, berlin(2026, 12, 2, 11)) == Shift(
        "dave", berlin(2026, 12, 2, 12), berlin(2026, 12, 2, 14), "override"
    )
    assert next_shift(rot, berlin(2026, 12, 2, 13)) == Shift(
        "alice", berlin(2026, 12, 2, 14), berlin(2026, 12, 7, 9), "weekly"
    )
    assert who(rot, berlin(2026, 12, 2, 14)) == "alice"


def test_override_spanning_a_handoff_and_later_override_wins() -> None:
    rot = Rotation(
        "r",
        (weekly(),),
        (
            Override("dave", berlin(2026, 12, 6, 18), berlin(2026, 12, 7, 12)),  # across alice -> bob
            Override("erin", berlin(2026, 12, 7, 0), berlin(2026, 12, 7, 2)),  # inside dave's: wins
        ),
    )
    assert on_duty(rot, berlin(2026, 12, 6, 20)) == Shift(
        "dave", berlin(2026, 12, 6, 18), berlin(2026, 12, 7, 0), "override"
    )
    assert who(rot, berlin(2026, 12, 7, 1)) == "erin"
    assert on_duty(rot, berlin(2026, 12, 7, 10)) == Shift(
        "dave", berlin(2026, 12, 7, 2), berlin(2026, 12, 7, 12), "override"
    )
    assert next_shift(rot, berlin(2026, 12, 7, 10)) == Shift(
        "bob", berlin(2026, 12, 7, 12), berlin(2026, 12, 14, 9), "weekly"
    )
    assert on_duty(rot, berlin(2026, 12, 6, 17)) == Shift(
        "alice", berlin(2026, 11, 30, 9), berlin(2026, 12, 6, 18), "weekly"
    )


def test_override_fills_a_gap_before_the_layer_starts() -> None:
    rot = Rotation("r", (weekly(),), (Override("dave", berlin(2026, 11, 29, 9), berlin(2026, 11, 30, 12)),))
    assert on_duty(rot, berlin(2026, 11, 30, 8)) == Shift(
        "dave", berlin(2026, 11, 29, 9), berlin(2026, 11, 30, 12), "override"
    )
    assert on_duty(rot, berlin(2026, 11, 30, 12)) == Shift(
        "alice", berlin(2026, 11, 30, 12), berlin(2026, 12, 7, 9), "weekly"
    )
    assert next_shift(rot, berlin(2026, 11, 28)) == on_duty(rot, berlin(2026, 11, 29, 9))


# -- daylight saving ---------------------------------------------------------------------------------


def daily(zone: str, start: dt.datetime, members: tuple[str, ...] = ("a", "b")) -> Rotation:
    return Rotation("r", (Layer("daily", members, zone, start, length_days=1),))


def test_berlin_spring_forward_daily_shift_is_23_hours() -> None:
    """Europe/Berlin goes from CET to CEST at 01:00 UTC on 2026-03-29: 09:00 local stays 09:00."""
    rot = daily("Europe/Berlin", dt.datetime(2026, 3, 27, 9, 0, tzinfo=BERLIN))
    shift = on_duty(rot, utc(2026, 3, 29, 3))
    assert shift == Shift("b", utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), "daily")  # 09:00 CET, 09:00 CEST
    assert shift.end - shift.start == 23 * H
    assert next_shift(rot, utc(2026, 3, 29, 3)) == Shift(
        "a", utc(2026, 3, 29, 7), utc(2026, 3, 30, 7), "daily"
    )


def test_berlin_fall_back_daily_shift_is_25_hours() -> None:
    """CEST ends at 01:00 UTC on 2026-10-25."""
    rot = daily("Europe/Berlin", dt.datetime(2026, 10, 23, 9, 0, tzinfo=BERLIN))
    shift = on_duty(rot, utc(2026, 10, 25, 1, 30))
    assert shift == Shift("b", utc(2026, 10, 24, 7), utc(2026, 10, 25, 8), "daily")
    assert shift.end - shift.start == 25 * H


def test_new_york_spring_and_fall() -> None:
    """America/New_York: EST -> EDT at 07:00 UTC on 2026-03-08, back at 06:00 UTC on 2026-11-01."""
    spring = daily("America/New_York", dt.datetime(2026, 3, 6, 9, 0, tzinfo=NEW_YORK))
    assert on_duty(spring, utc(2026, 3, 8, 12)) == Shift(
        "b", utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), "daily"
    )
    fall = daily("America/New_York", dt.datetime(2026, 10, 30, 9, 0, tzinfo=NEW_YORK))
    assert on_duty(fall, utc(2026, 11, 1, 12)) == Shift(
        "b", utc(2026, 10, 31, 13), utc(2026, 11, 1, 14), "daily"
    )


def test_twelve_hours_are_absolute_across_dst() -> None:
    """A "12h" layer is 43200 s on the change day too, so its wall-clock hand-off moves by an hour."""
    start = dt.datetime(2026, 3, 28, 7, 0, tzinfo=BERLIN)  # 06:00 UTC
    rot = Rotation("r", (Layer("12h", ("d", "n"), "Europe/Berlin", start, length_seconds=12 * H),))
    pieces = schedule(rot, utc(2026, 3, 28, 6), utc(2026, 3, 30, 6))
    assert [(s.member, s.start, s.end - s.start) for s in pieces] == [
        ("d", utc(2026, 3, 28, 6), 12 * H), ("n", utc(2026, 3, 28, 18), 12 * H),
        ("d", utc(2026, 3, 29, 6), 12 * H), ("n", utc(2026, 3, 29, 18), 12 * H),
    ]  # fmt: skip
    assert dt.datetime.fromtimestamp(pieces[2].start, BERLIN).hour == 8  # 07:00 CET became 08:00 CEST


def test_handoff_in_the_skipped_hour_uses_fold_0() -> None:
    """A 02:30 hand-off on spring-forward day (02:00-03:00 does not exist in Berlin) is read with the
    offset before the change: 02:30+01:00 = 01:30 UTC = 03:30 CEST."""
    rot = daily("Europe/Berlin", dt.datetime(2026, 3, 27, 2, 30, tzinfo=BERLIN))
    shift = on_duty(rot, utc(2026, 3, 29, 1))
    assert shift == Shift("b", utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), "daily")  # 24 h
    after = next_shift(rot, utc(2026, 3, 29, 1))
    assert after == Shift(
        "a", utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30), "daily"
    )  # 23 h, to 02:30 CEST
    # New York, 2026-03-08: 02:30 does not exist either; 02:30-05:00 = 07:30 UTC = 03:30 EDT.
    ny = daily("America/New_York", dt.datetime(2026, 3, 7, 2, 30, tzinfo=NEW_YORK))
    assert on_duty(ny, utc(2026, 3, 8, 8)) == Shift(
        "b", utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30), "daily"
    )


def test_handoff_in_the_repeated_hour_is_its_first_occurrence() -> None:
    """02:30 happens twice on 2026-10-25 in Berlin; fold=0 is the first, 02:30 CEST = 00:30 UTC."""
    rot = daily("Europe/Berlin", dt.datetime(2026, 10, 23, 2, 30, tzinfo=BERLIN))
    assert on_duty(rot, utc(2026, 10, 25, 0, 45)) == Shift(
        "a", utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30), "daily"
    )  # 25 h: to 02:30 CET
    # New York repeats 01:00-02:00 on 2026-11-01: 01:30 EDT = 05:30 UTC.
    ny = daily("America/New_York", dt.datetime(2026, 10, 30, 1, 30, tzinfo=NEW_YORK))
    assert on_duty(ny, utc(2026, 11, 1, 6)) == Shift(
        "a", utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30), "daily"
    )


def test_restriction_keeps_wall_time_across_dst() -> None:
    business = restricted(
        "business", ("dave",), dt.datetime(2026, 3, 1, 0, 0, tzinfo=BERLIN), 7, WORKDAYS, 8, 18
    )
    rot = Rotation("r", (business,))
    assert on_duty(rot, utc(2026, 3, 27, 12)) == Shift(
        "dave", utc(2026, 3, 27, 7), utc(2026, 3, 27, 17), "business"
    )
    assert on_duty(rot, utc(2026, 3, 30, 12)) == Shift(
        "dave", utc(2026, 3, 30, 6), utc(2026, 3, 30, 16), "business"
    )


# -- paging targets ----------------------------------------------------------------------------------


def test_targets_at_resolves_rotations() -> None:
    rotations = {"primary": Rotation("primary", (weekly(),)), "empty": Rotation("empty", (weekly(),))}
    at = berlin(2026, 12, 8)
    assert targets_at(("rotation:primary", "lead", "bob"), rotations, at) == ("bob", "lead")
    assert targets_at(("rotation:empty",), rotations, berlin(2026, 1, 1)) == ()  # nobody: nothing paged


def test_layer_refuses_nonsense() -> None:
    start = dt.datetime(2026, 12, 1, tzinfo=BERLIN)
    with pytest.raises(ValueError, match="no members"):
        Layer("x", (), "UTC", start, length_days=1)
    with pytest.raises(ValueError, match="exactly one"):
        Layer("x", ("a",), "UTC", start, length_days=1, length_seconds=60)
    with pytest.raises(ValueError, match="aware"):
        Layer("x", ("a",), "UTC", dt.datetime(2026, 12, 1), length_days=1)


# -- property: schedule and on_duty agree ------------------------------------------------------------

ZONES = ("Europe/Berlin", "America/New_York", "UTC", "Australia/Lord_Howe", "Asia/Kolkata")
BASE = utc(2026, 1, 1)
YEAR = 365 * DAY


@st.composite
def rotations(draw: st.DrawFn) -> Rotation:
    layers = []
    for i in range(draw(st.integers(1, 3))):
        zone = draw(st.sampled_from(ZONES))
        start = dt.datetime.fromtimestamp(BASE + draw(st.integers(0, int(YEAR))), ZoneInfo(zone))
        start = start.replace(second=0, microsecond=0)
        members = tuple(draw(st.lists(st.sampled_from("abcd"), min_size=1, max_size=4)))
        if draw(st.booleans()):
            length = {"length_days": draw(st.integers(1, 7))}
        else:
            length = {"length_seconds": draw(st.integers(1, 72)) * 1800.0}
        restrictions = tuple(
            Restriction(
                frozenset(draw(st.sets(st.integers(0, 6), min_size=1))),
                dt.time(draw(st.integers(0, 23)), draw(st.sampled_from((0, 30)))),
                dt.time(draw(st.integers(0, 23)), draw(st.sampled_from((0, 30)))),
            )
            for _ in range(draw(st.integers(0, 2)))
        )
        layers.append(Layer(f"l{i}", members, zone, start, restrictions=restrictions, **length))  # type: ignore[arg-type]
    overrides = []
    for _ in range(draw(st.integers(0, 3))):
        s = BASE + draw(st.integers(0, int(YEAR)))
        overrides.append(Override(draw(st.sampled_from("abcdz")), s, s + draw(st.integers(1, 10 * int(DAY)))))
    return Rotation("p", tuple(layers), tuple(overrides))


@settings(max_examples=40, deadline=None)
@given(
    rotations(),
    st.integers(0, int(YEAR)),
    st.integers(1, 40 * int(DAY)),
    st.lists(st.floats(0, 1), min_size=1, max_size=4),
)
def test_schedule_agrees_with_on_duty(rot: Rotation, offset: int, length: int, where: list[float]) -> None:
    start, end = BASE + offset, BASE + offset + length
    pieces = schedule(rot, start, end)
    for p in pieces:
        assert start <= p.start < p.end <= end
    for p, q in itertools.pairwise(pieces):
        assert p.end <= q.start
        assert p.end < q.start or p.member != q.member  # touching pieces of one member are merged
    for f in where:
        at = start + f * (end - start)
        if at >= end:
            continue
        piece = next((p for p in pieces if p.start <= at < p.end), None)
        shift = on_duty(rot, at)
        if piece is None:
            assert shift is None
            continue
        assert shift is not None
        assert shift.member == piece.member
        assert shift.start <= piece.start
        assert shift.end >= piece.end
        if piece.start > start:
            assert (shift.start, shift.layer) == (piece.start, piece.layer)
        if piece.end < end:
            assert shift.end == piece.end
        assert shift.end == math.inf or shift.end - at <= HORIZON
        nxt = next_shift(rot, at)
        if nxt is not None:
            assert nxt.start >= shift.end
            assert nxt.start > shift.end or nxt.member != shift.member
