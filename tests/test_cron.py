"""Crontab lines (core.cron): cron's meaning, checked against APScheduler's CronTrigger as a reference."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from watchd.core.cron import CronSpec

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
_APS_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def t(*args: int, zone: ZoneInfo = UTC) -> float:
    return dt.datetime(*args, tzinfo=zone).timestamp()  # type: ignore[misc]


def reference(expr: str, begin: float, end: float, zone: ZoneInfo) -> list[float]:
    """APScheduler's fire times; it numbers weekdays from Monday, so numbers become names first."""
    minute, hour, day, month, dow = expr.split()

    def name(tok: str) -> str:
        return _APS_DAYS[int(tok)] if tok.isdigit() else tok

    def translate(field: str) -> str:
        out = []
        for item in field.split(","):
            base, slash, step = item.partition("/")
            lo, dash, hi = base.partition("-")
            out.append(name(lo) + (dash + name(hi) if dash else "") + (slash + step if slash else ""))
        return ",".join(out)

    trig = CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=translate(dow), timezone=zone
    )
    now, prev, out = dt.datetime.fromtimestamp(begin, zone), None, []
    while len(out) < 10_000:
        fire = trig.get_next_fire_time(prev, now)
        if fire is None or fire.timestamp() >= end:
            return out
        out.append(fire.timestamp())
        prev, now = fire, fire + dt.timedelta(seconds=1)
    return out


@pytest.mark.parametrize(
    ("expr", "begin", "end", "expected"),
    [
        ("0 0 * * 0", t(2026, 11, 23), t(2026, 12, 7), [t(2026, 11, 29), t(2026, 12, 6)]),
        ("0 0 * * 7", t(2026, 11, 23), t(2026, 12, 7), [t(2026, 11, 29), t(2026, 12, 6)]),
        ("30 2 1 * *", t(2026, 11, 15), t(2027, 1, 15), [t(2026, 12, 1, 2, 30), t(2027, 1, 1, 2, 30)]),
        ("0 12 * jan,jul mon-fri", t(2026, 12, 31), t(2027, 1, 3), [t(2027, 1, 1, 12)]),
        ("*/20 9 * * *", t(2026, 12, 1), t(2026, 12, 2), [t(2026, 12, 1, 9, m) for m in (0, 20, 40)]),
        ("0 0 13 * 5", t(2026, 11, 1), t(2026, 11, 30), [t(2026, 11, 6), t(2026, 11, 13), t(2026, 11, 20),
                                                          t(2026, 11, 27)]),
        ("0 0 */10 * mon", t(2027, 1, 1), t(2027, 2, 1), [t(2027, 1, 11)]),
    ],
    ids=["sunday-0", "sunday-7", "monthly", "names", "step", "day-or-weekday", "star-step-means-and"],
)  # fmt: skip
def test_fire_times(expr: str, begin: float, end: float, expected: list[float]) -> None:
    """Crontab lines fire when cron fires them (Sunday 0 and 7; day-of-month OR weekday when both set)."""
    assert CronSpec.parse(expr).fires(begin, end, UTC) == expected


def test_local_time_is_kept_across_dst() -> None:
    """02:30 Berlin does not exist on the spring change day, happens once in autumn; 00:00 stays local."""
    spring = CronSpec.parse("30 2 * * *").fires(t(2026, 3, 28), t(2026, 3, 31), BERLIN)
    assert spring == [t(2026, 3, 28, 2, 30, zone=BERLIN), t(2026, 3, 30, 2, 30, zone=BERLIN)]
    autumn = CronSpec.parse("30 2 * * *").fires(t(2026, 10, 25), t(2026, 10, 26), BERLIN)
    assert autumn == [dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC).timestamp()]  # 02:30 CEST, the first
    midnight = CronSpec.parse("0 0 * * *").fires(t(2026, 3, 28), t(2026, 3, 30), BERLIN)
    assert midnight == [t(2026, 3, 28, 23), t(2026, 3, 29, 22)]  # CET, then CEST


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 0 * *", "expected 5 crontab fields"),
        ("60 0 * * *", "minute: 60 is out of range 0-59"),
        ("0 24 * * *", "hour: 24 is out of range 0-23"),
        ("0 0 0 * *", "day: 0 is out of range 1-31"),
        ("0 0 * 13 *", "month: 13 is out of range 1-12"),
        ("0 0 * * 8", "weekday: 8 is out of range 0-7"),
        ("0 0 * * fri-mon", "weekday: range 'fri-mon' runs backwards"),
        ("*/0 * * * *", "minute: step must be a positive number"),
        ("x * * * *", "minute: expected a number 0-59, not 'x'"),
        ("0 0 * foo *", "month: expected a number 1-12 or a name, not 'foo'"),
        ("0 0 1,,2 * *", "day: expected a number 1-31, not ''"),
    ],
)
def test_bad_lines_name_the_field(expr: str, message: str) -> None:
    """A bad crontab line is a ValueError that says which field is wrong and why."""
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        CronSpec.parse(expr)


def _field(low: int, high: int, star_steps: bool = True) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    # APScheduler has no weekday 7 in ranges
    ranged = st.integers(low, min(high, 6) if not star_steps else high)
    items = [
        number.map(str),
        st.tuples(ranged, ranged).map(lambda p: f"{min(p)}-{max(p)}"),
        st.tuples(ranged, ranged, st.integers(1, 12)).map(lambda p: f"{min(p[:2])}-{max(p[:2])}/{p[2]}"),
        st.just("*"),
    ]
    if star_steps:  # `*/n` over weekdays counts from Sunday in cron, from Monday in APScheduler
        items.append(st.integers(1, 30).map(lambda n: f"*/{n}"))
    return st.lists(st.one_of(items), min_size=1, max_size=3).map(",".join)


@settings(max_examples=120, deadline=None, derandomize=True)
@given(
    minute=_field(0, 59), hour=_field(0, 23), day=_field(1, 31), month=_field(1, 12),
    weekday=_field(0, 7, star_steps=False),
    star=st.sampled_from(["day", "weekday"]), start_day=st.integers(0, 365),
)  # fmt: skip
def test_same_fire_times_as_apscheduler(
    minute: str, hour: str, day: str, month: str, weekday: str, star: str, start_day: int
) -> None:
    """Generated crontab lines fire exactly when APScheduler fires them over 10 days (UTC). One of day
    and weekday starts with `*`: when both are restricted cron ORs them, APScheduler ANDs them."""
    if star == "day":
        day = "*" if not day.startswith("*") else day
    else:
        weekday = "*" if not weekday.startswith("*") else weekday
    expr = f"{minute} {hour} {day} {month} {weekday}"
    begin = t(2026, 1, 1) + start_day * 86400.0
    end = begin + 10 * 86400.0
    try:
        expected = reference(expr, begin, end, UTC)
    except ValueError:  # APScheduler refuses steps longer than their range; cron takes them
        assume(False)
    assert CronSpec.parse(expr).fires(begin, end, UTC) == expected, expr


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=" */,-0123456789abcdefghijklmnopqrstuvwxyz", max_size=30))
def test_parse_raises_only_value_error(expr: str) -> None:
    """Any text is a CronSpec or a ValueError, never another exception."""
    try:
        spec = CronSpec.parse(expr)
    except ValueError:
        return
    assert spec.fires(t(2026, 1, 1), t(2026, 1, 3), UTC, limit=50) is not None
