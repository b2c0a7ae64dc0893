"""watchd.core.paging: when each level of a paging policy fires, whom it wakes, which media quiet
hours mute, and when a digest goes out. Pure: literal instants, no loop, no sleeping."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchd.core.model import Incident, IncidentStatus, State
from watchd.core.oncall import Layer, PageLevel, PagingPolicy, Restriction, Rotation
from watchd.core.oncall import staffing as resolve
from watchd.core.paging import Digest, Page, QuietHours, audible, due, fire_times, next_due
from watchd.core.priority import PRIORITIES

BERLIN = ZoneInfo("Europe/Berlin")
M, H = 60.0, 3600.0
MON_FRI = frozenset(range(5))


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=BERLIN).timestamp()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC).timestamp()


# Tuesday 1 December 2026, 08:55 in Berlin: five minutes before the daily 09:00 hand-off.
T0 = berlin(2026, 12, 1, 8, 55)
ROTATIONS = {
    # daily at 09:00: alice from Monday 30 November, bob from Tuesday, alice again on Wednesday ...
    "primary": Rotation(
        "primary",
        (Layer("daily", ("alice", "bob"), "Europe/Berlin", dt.datetime(2026, 11, 30, 9, tzinfo=BERLIN), 1),),
    ),
    "secondary": Rotation(
        "secondary",
        (Layer("weekly", ("carol",), "Europe/Berlin", dt.datetime(2026, 11, 30, 9, tzinfo=BERLIN), 7),),
    ),
    # only in business hours: nobody at night or at the weekend
    "business": Rotation(
        "business",
        (
            Layer(
                "office",
                ("dave",),
                "Europe/Berlin",
                dt.datetime(2026, 11, 30, 8, tzinfo=BERLIN),
                1,
                restrictions=(Restriction(MON_FRI, dt.time(8), dt.time(18)),),
            ),
        ),
    ),
}
STANDARD = PagingPolicy(
    "standard",
    (
        PageLevel(0.0, None, ("rotation:primary",)),
        PageLevel(10 * M, None, ("rotation:secondary",)),
        PageLevel(0.0, "response", ("lead",)),
        PageLevel(5 * M, "resolution", ("lead", "rotation:primary")),
    ),
)


def p1(**kw: object) -> Incident:
    base = dict(
        host="web01", check="shop", priority="P1", impact="high", urgency="high", state=State.CRITICAL,
        summary="HTTP 503", opened_at=T0, updated_at=T0, id=7, respond_by=T0 + 30 * M, resolve_by=T0 + 4 * H,
    )  # fmt: skip
    return Incident(**{**base, **kw})  # type: ignore[arg-type]


# -- fire_times ---------------------------------------------------------------------------------------


def test_fire_times_after_and_sla_deadlines() -> None:
    """`after: 0` at the start, `after: 10m` ten minutes on, `at: response` at respond_by, `at:
    resolution` (after 5m) five minutes past resolve_by."""
    assert fire_times(p1(), STANDARD, T0) == [
        (0, 0, 0, T0),
        (1, 1, 0, T0 + 10 * M),
        (2, 2, 0, T0 + 30 * M),
        (3, 3, 0, T0 + 4 * H + 5 * M),
    ]


def test_fire_times_count_from_the_start_of_paging_but_deadlines_stay() -> None:
    """Paging that began later (an incident released from a suppression) moves `after` levels, not
    the SLA deadlines."""
    later = T0 + 20 * M
    assert [t for *_, t in fire_times(p1(), STANDARD, later)] == [
        later,
        later + 10 * M,
        T0 + 30 * M,
        T0 + 4 * H + 5 * M,
    ]


@pytest.mark.parametrize(
    ("respond_by", "resolve_by", "numbers"),
    [(None, T0 + 4 * H, [0, 1, 3]), (T0 + 30 * M, None, [0, 1, 2]), (None, None, [0, 1])],
    ids=["no-response-target", "no-resolution-target", "neither"],
)
def test_levels_without_their_deadline_are_left_out(
    respond_by: float | None, resolve_by: float | None, numbers: list[int]
) -> None:
    """A level `at: response` for an incident without a response target never fires; the other levels
    keep their numbers (the numbers are what the store records as fired)."""
    inc = p1(respond_by=respond_by, resolve_by=resolve_by)
    assert [n for n, *_ in fire_times(inc, STANDARD, T0)] == numbers


def test_repeat_starts_each_round_where_the_last_level_fired() -> None:
    policy = PagingPolicy("twice", (PageLevel(0.0, None, ("a",)), PageLevel(10 * M, None, ("b",))), repeat=2)
    assert fire_times(p1(), policy, T0) == [
        (0, 0, 0, T0),
        (1, 1, 0, T0 + 10 * M),
        (2, 0, 1, T0 + 10 * M),  # round 2 begins as round 1's last level fires
        (3, 1, 1, T0 + 20 * M),
        (4, 0, 2, T0 + 20 * M),
        (5, 1, 2, T0 + 30 * M),
    ]


def test_repeat_with_an_sla_level_offsets_it_too() -> None:
    policy = PagingPolicy("sla", (PageLevel(0.0, None, ("a",)), PageLevel(0.0, "response", ("b",))), repeat=1)
    assert fire_times(p1(), policy, T0) == [
        (0, 0, 0, T0),
        (1, 1, 0, T0 + 30 * M),
        (2, 0, 1, T0 + 30 * M),
        (3, 1, 1, T0 + 60 * M),
    ]


@pytest.mark.parametrize(
    ("levels", "respond_by"),
    [
        ((PageLevel(0.0, None, ("a",)), PageLevel(0.0, None, ("b",))), T0 + 30 * M),
        # the only later level has no deadline for this incident: what is left fires at once
        ((PageLevel(0.0, None, ("a",)), PageLevel(0.0, "response", ("b",))), None),
    ],
    ids=["all-after-0", "later-level-left-out"],
)
def test_a_chain_that_fires_all_at_once_is_not_repeated(
    levels: tuple[PageLevel, ...], respond_by: float | None
) -> None:
    """Repeating it would page the same people several times in the same second."""
    policy = PagingPolicy("burst", levels, repeat=5)
    times = fire_times(p1(respond_by=respond_by), policy, T0)
    assert [t for *_, t in times] == [T0] * len(times)
    assert [rnd for _, _, rnd, _ in times] == [0] * len(times)


# -- due, next_due, resolve ---------------------------------------------------------------------------


def test_due_pages_level_by_level_each_once() -> None:
    assert due(p1(), T0, STANDARD, ROTATIONS, T0, set()) == [Page(0, 0, 0, ("alice",))]
    assert due(p1(), T0 + 10 * M - 1, STANDARD, ROTATIONS, T0, {0}) == []
    assert due(p1(), T0 + 10 * M, STANDARD, ROTATIONS, T0, {0}) == [Page(1, 1, 0, ("carol",))]
    assert due(p1(), T0 + 30 * M, STANDARD, ROTATIONS, T0, {0, 1}) == [Page(2, 2, 0, ("lead",))]
    assert due(p1(), T0 + 5 * H, STANDARD, ROTATIONS, T0, {0, 1, 2, 3}) == []


def test_levels_missed_while_down_all_come_due_and_fired_ones_do_not_return() -> None:
    """After a pause (a restart), every level whose time passed is due at once, except those fired."""
    pages = due(p1(), T0 + 31 * M, STANDARD, ROTATIONS, T0, {1})
    assert [p.number for p in pages] == [0, 2]


def test_a_hand_off_between_levels_pages_the_new_person() -> None:
    """Level 1 at 08:55 wakes alice; at 09:00 the rotation hands off to bob, so a level naming the same
    rotation at 09:05 wakes bob: targets are resolved when the level fires."""
    policy = PagingPolicy(
        "same-rotation",
        (PageLevel(0.0, None, ("rotation:primary",)), PageLevel(10 * M, None, ("rotation:primary",))),
    )
    assert due(p1(), T0, policy, ROTATIONS, T0, set()) == [Page(0, 0, 0, ("alice",))]
    assert due(p1(), T0 + 10 * M, policy, ROTATIONS, T0, {0}) == [Page(1, 1, 0, ("bob",))]


@pytest.mark.parametrize(
    "change",
    [
        {"acked_at": T0 + 60, "acked_by": "alice"},
        {"status": IncidentStatus.RESOLVED, "resolved_at": T0 + 60},
        {"suppressed_by": "dependency db is CRITICAL"},
    ],
    ids=["acked", "resolved", "suppressed"],
)
def test_acked_resolved_or_suppressed_incidents_page_nobody(change: dict[str, object]) -> None:
    assert due(p1(**change), T0 + 5 * H, STANDARD, ROTATIONS, T0, set()) == []


def test_a_rotation_with_nobody_on_duty_is_reported() -> None:
    """Sunday 03:00: the business rotation has nobody; the level still pages the people it names."""
    sunday = berlin(2026, 12, 6, 3, 0)
    policy = PagingPolicy("night", (PageLevel(0.0, None, ("rotation:business", "lead", "rotation:primary")),))
    inc = p1(opened_at=sunday, updated_at=sunday, respond_by=None, resolve_by=None)
    # Saturday 5 December 09:00 to Sunday 09:00 is bob's day (alice Mon, bob Tue, ... Sat bob)
    assert due(inc, sunday, policy, ROTATIONS, sunday, set()) == [
        Page(0, 0, 0, ("lead", "bob"), ("business",))
    ]
    assert resolve(("rotation:business",), ROTATIONS, sunday) == ((), ("business",))
    monday = berlin(2026, 12, 7, 10, 0)
    assert resolve(("rotation:business", "rotation:primary"), ROTATIONS, monday) == (("dave", "bob"), ())


def test_resolve_names_each_person_once_in_order() -> None:
    at = berlin(2026, 12, 1, 12, 0)  # bob's day; carol's week
    assert resolve(("carol", "rotation:primary", "rotation:secondary", "bob"), ROTATIONS, at) == (
        ("carol", "bob"),
        (),
    )


def test_next_due_is_the_earliest_level_not_fired() -> None:
    assert next_due(p1(), STANDARD, T0, set()) == T0
    assert next_due(p1(), STANDARD, T0, {0}) == T0 + 10 * M
    assert next_due(p1(), STANDARD, T0, {0, 2}) == T0 + 10 * M
    assert next_due(p1(), STANDARD, T0, {0, 1, 2}) == T0 + 4 * H + 5 * M
    assert next_due(p1(), STANDARD, T0, {0, 1, 2, 3}) is None
    assert next_due(p1(respond_by=None, resolve_by=None), STANDARD, T0, {0, 1}) is None


# -- quiet hours --------------------------------------------------------------------------------------

NIGHT = QuietHours(MON_FRI, dt.time(22), dt.time(7), ("sms", "voice"))


@pytest.mark.parametrize(
    ("at", "quiet"),
    [
        (berlin(2026, 12, 4, 23, 0), True),  # Friday 23:00: a listed evening
        (berlin(2026, 12, 5, 3, 0), True),  # Saturday 03:00: the morning after Friday
        (berlin(2026, 12, 5, 6, 59), True),
        (berlin(2026, 12, 5, 7, 0), False),  # the end is not part of the span
        (berlin(2026, 12, 5, 23, 0), False),  # Saturday evening: not listed
        (berlin(2026, 12, 7, 3, 0), False),  # Monday 03:00: the morning after Sunday, not listed
        (berlin(2026, 12, 7, 22, 0), True),  # Monday 22:00: the start is part of it
        (berlin(2026, 12, 7, 21, 59), False),
        (berlin(2026, 12, 8, 3, 0), True),  # Tuesday 03:00: the morning after Monday
        (berlin(2026, 12, 8, 12, 0), False),
    ],
    ids=[
        "fri-23",
        "sat-03",
        "sat-0659",
        "sat-07",
        "sat-23",
        "mon-03",
        "mon-22",
        "mon-2159",
        "tue-03",
        "tue-12",
    ],
)
def test_a_span_past_midnight_belongs_to_the_day_it_starts(at: float, quiet: bool) -> None:
    """22:00-07:00 on mon-fri is five nights, Monday night to Friday night: the morning part belongs to
    the day before (as a rotation's night restriction does)."""
    assert NIGHT.covers(at, "Europe/Berlin") is quiet


@pytest.mark.parametrize(
    ("at", "quiet"),
    [
        (berlin(2026, 12, 5, 12, 0), True),  # Saturday noon
        (berlin(2026, 12, 5, 13, 59), True),
        (berlin(2026, 12, 5, 14, 0), False),
        (berlin(2026, 12, 5, 11, 59), False),
        (berlin(2026, 12, 7, 13, 0), False),  # Monday: not listed
    ],
)
def test_a_daytime_span(at: float, quiet: bool) -> None:
    lunch = QuietHours(frozenset({5, 6}), dt.time(12), dt.time(14), ("sms",))
    assert lunch.covers(at, "Europe/Berlin") is quiet


def test_quiet_hours_are_read_in_the_contacts_zone() -> None:
    """Friday 23:00 in New York is Saturday 05:00 in Berlin: quiet for both, but Friday 23:30 in
    Berlin (17:30 in New York) is quiet for Berlin only."""
    late = berlin(2026, 12, 4, 23, 30)
    assert NIGHT.covers(late, "Europe/Berlin")
    assert not NIGHT.covers(late, "America/New_York")


@pytest.mark.parametrize(
    ("day", "last_quiet_utc", "first_loud_utc", "minutes"),
    [
        ((2026, 3, 28), (2026, 3, 29, 4, 59), (2026, 3, 29, 5, 0), 8 * 60),  # spring: 07:00 CEST
        ((2026, 10, 24), (2026, 10, 25, 5, 59), (2026, 10, 25, 6, 0), 10 * 60),  # autumn: 07:00 CET
    ],
    ids=["spring-forward", "fall-back"],
)
def test_quiet_hours_on_a_dst_change_night_keep_their_wall_times(
    day: tuple[int, int, int],
    last_quiet_utc: tuple[int, int, int, int, int],
    first_loud_utc: tuple[int, int, int, int, int],
    minutes: int,
) -> None:
    """Saturday 22:00 to Sunday 07:00 Berlin is 8 hours when the clocks go forward and 10 when they go
    back: the span ends at 07:00 on the wall, whatever the offset."""
    every_night = QuietHours(frozenset(range(7)), dt.time(22), dt.time(7), ("sms",))
    assert every_night.covers(utc(*last_quiet_utc), "Europe/Berlin")
    assert not every_night.covers(utc(*first_loud_utc), "Europe/Berlin")
    evening = berlin(*day, 20)
    covered = sum(every_night.covers(evening + k * M, "Europe/Berlin") for k in range(14 * 60))
    assert covered == minutes


MEDIA = ("email", "sms", "voice", "pagerduty")
SATURDAY_3AM = berlin(2026, 12, 5, 3, 0)


@pytest.mark.parametrize(
    ("pierce", "priority", "expected"),
    [
        ("P1", "P1", MEDIA),  # P1 always gets through by default
        ("P1", "P2", ("email", "pagerduty")),
        ("P1", "P4", ("email", "pagerduty")),
        ("P2", "P1", MEDIA),
        ("P2", "P2", MEDIA),
        ("P2", "P3", ("email", "pagerduty")),
    ],
)
def test_pierce(pierce: str, priority: str, expected: tuple[str, ...]) -> None:
    quiet = [QuietHours(MON_FRI, dt.time(22), dt.time(7), ("sms", "voice"), pierce)]
    assert audible(MEDIA, priority, SATURDAY_3AM, "Europe/Berlin", quiet) == expected


def test_audible_outside_quiet_hours_and_with_several_spans() -> None:
    noon = berlin(2026, 12, 5, 12, 0)
    spans = [NIGHT, QuietHours(frozenset({5}), dt.time(11), dt.time(13), ("pagerduty",), "P2")]
    assert audible(MEDIA, "P3", noon, "Europe/Berlin", spans) == ("email", "sms", "voice")
    assert audible(MEDIA, "P2", noon, "Europe/Berlin", spans) == MEDIA
    assert audible(MEDIA, "P3", SATURDAY_3AM, "Europe/Berlin", spans) == ("email", "pagerduty")
    assert audible(MEDIA, "P3", SATURDAY_3AM, "Europe/Berlin", []) == MEDIA


def is_subsequence(small: Sequence[str], big: Sequence[str]) -> bool:
    it = iter(big)
    return all(any(x == y for y in it) for x in small)


_MEDIA_NAMES = st.sampled_from(("email", "sms", "voice", "pagerduty", "opsgenie", "apprise", "webhook"))
_TIMES = st.builds(dt.time, st.integers(0, 23), st.sampled_from((0, 15, 30, 59)))
_SPANS = st.builds(
    QuietHours,
    days=st.frozensets(st.integers(0, 6)),
    start=_TIMES,
    end=_TIMES,
    media=st.lists(_MEDIA_NAMES, max_size=4).map(tuple),
    pierce=st.sampled_from(PRIORITIES),
)
_INSTANTS = st.floats(utc(2026, 1, 1), utc(2028, 1, 1))
_ZONES = st.sampled_from(("Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC", "Australia/Lord_Howe"))


@given(
    media=st.lists(_MEDIA_NAMES, max_size=7, unique=True),
    priority=st.sampled_from(PRIORITIES),
    at=_INSTANTS,
    zone=_ZONES,
    quiet=st.lists(_SPANS, max_size=4),
)
def test_audible_is_a_subsequence_of_the_media(
    media: list[str], priority: str, at: float, zone: str, quiet: list[QuietHours]
) -> None:
    out = audible(media, priority, at, zone, quiet)
    assert is_subsequence(out, media)
    if all(not q.covers(at, zone) for q in quiet):
        assert out == tuple(media)


@given(
    media=st.lists(_MEDIA_NAMES, max_size=7, unique=True),
    at=_INSTANTS,
    zone=_ZONES,
    quiet=st.lists(_SPANS.map(lambda q: QuietHours(q.days, q.start, q.end, q.media)), max_size=4),
)
def test_p1_with_the_default_pierce_is_never_muted(
    media: list[str], at: float, zone: str, quiet: list[QuietHours]
) -> None:
    assert audible(media, "P1", at, zone, quiet) == tuple(media)


# -- digest -------------------------------------------------------------------------------------------

NINE = Digest(dt.time(9))


def test_digest_of_items_held_since_yesterday_goes_out_at_nine() -> None:
    oldest = berlin(2026, 12, 1, 10, 0)
    assert not NINE.due(berlin(2026, 12, 2, 8, 59), "Europe/Berlin", oldest)
    assert NINE.due(berlin(2026, 12, 2, 9, 0), "Europe/Berlin", oldest)
    assert NINE.due(berlin(2026, 12, 2, 15, 0), "Europe/Berlin", oldest)  # a late pass still sends it


def test_items_held_after_todays_digest_wait_for_tomorrows() -> None:
    oldest = berlin(2026, 12, 2, 9, 30)
    assert not NINE.due(berlin(2026, 12, 2, 10, 0), "Europe/Berlin", oldest)
    assert not NINE.due(berlin(2026, 12, 2, 23, 59), "Europe/Berlin", oldest)
    assert not NINE.due(berlin(2026, 12, 3, 8, 59), "Europe/Berlin", oldest)
    assert NINE.due(berlin(2026, 12, 3, 9, 0), "Europe/Berlin", oldest)


def test_the_digest_time_is_in_the_contacts_zone() -> None:
    """09:00 in New York is 14:00 UTC in December (EST) and 13:00 UTC in July (EDT)."""
    oldest = utc(2026, 12, 1, 20, 0)
    assert not NINE.due(utc(2026, 12, 2, 13, 59), "America/New_York", oldest)
    assert NINE.due(utc(2026, 12, 2, 14, 0), "America/New_York", oldest)
    summer = utc(2026, 7, 1, 20, 0)
    assert not NINE.due(utc(2026, 7, 2, 12, 59), "America/New_York", summer)
    assert NINE.due(utc(2026, 7, 2, 13, 0), "America/New_York", summer)
    assert NINE.due(utc(2026, 12, 2, 8, 0), "Europe/Berlin", oldest)  # 09:00 CET


def test_digest_on_the_spring_forward_morning() -> None:
    """Sunday 29 March 2026: 09:00 in Berlin is already CEST, 07:00 UTC."""
    oldest = berlin(2026, 3, 28, 10, 0)
    assert not NINE.due(utc(2026, 3, 29, 6, 59), "Europe/Berlin", oldest)
    assert NINE.due(utc(2026, 3, 29, 7, 0), "Europe/Berlin", oldest)


def test_digest_holds_only_its_priorities() -> None:
    d = Digest(dt.time(9), ("P3", "P4"))
    assert [p for p in PRIORITIES if d.holds(p)] == ["P3", "P4"]
    assert [p for p in PRIORITIES if NINE.holds(p)] == ["P4"]
