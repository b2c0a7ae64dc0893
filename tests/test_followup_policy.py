"""Escalation, renotification, maintenance windows, announcements and suppression: pure, with
literal instants (no loop, no sleeping)."""

from __future__ import annotations

import datetime as dt

import pytest

from watchd.core.businesshours import BusinessCalendar
from watchd.core.escalation import Escalation, Level, due, renotify_due
from watchd.core.maintenance import RecurringWindow, Scope, Window, announce_at, windows_between
from watchd.core.model import Incident, State
from watchd.core.priority import PriorityPolicy
from watchd.core.suppression import Silence, reason

UTC = dt.UTC
H = 3600.0


def t(*args: int) -> float:
    return dt.datetime(*args, tzinfo=UTC).timestamp()


FRI_1630_CET = t(2026, 11, 27, 15, 30)
P2_RESPOND, P2_RESOLVE = PriorityPolicy().deadlines("P2", FRI_1630_CET)
CHAIN = (Level(0, ("lead",)), Level(1 * H, ("manager",)))


def p2(**kw: object) -> Incident:
    base = dict(
        host="web01", check="shop", priority="P2", impact="high", urgency="medium", state=State.CRITICAL,
        summary="HTTP 503", opened_at=FRI_1630_CET, updated_at=FRI_1630_CET, id=3,
        respond_by=P2_RESPOND, resolve_by=P2_RESOLVE,
    )  # fmt: skip
    return Incident(**{**base, **kw})  # type: ignore[arg-type]


def test_p2_deadlines_skip_the_weekend() -> None:
    """Opened Friday 16:30 CET: respond by Monday 09:30 CET, resolve by Monday 16:30 CET."""
    assert t(2026, 11, 30, 8, 30) == P2_RESPOND
    assert t(2026, 11, 30, 15, 30) == P2_RESOLVE


@pytest.mark.parametrize(
    ("now", "fired", "expected"),
    [
        (t(2026, 11, 28, 12, 0), set(), []),  # Saturday: nothing, the clock stands still
        (P2_RESPOND - 1, set(), []),
        (P2_RESPOND, set(), [Escalation("respond", 0, ("lead",))]),
        (P2_RESPOND + 1 * H, {("respond", 0)}, [Escalation("respond", 1, ("manager",))]),
        (
            P2_RESPOND + 1 * H,
            set(),
            [Escalation("respond", 0, ("lead",)), Escalation("respond", 1, ("manager",))],
        ),
        (P2_RESOLVE, {("respond", 0), ("respond", 1)}, [Escalation("resolve", 0, ("lead",))]),
        (P2_RESOLVE + 99 * H, {("respond", 0), ("respond", 1), ("resolve", 0)}, []),
    ],
    ids=[
        "weekend",
        "just-before",
        "respond-by",
        "next-level",
        "both-after-downtime",
        "resolve-by",
        "all-fired",
    ],
)
def test_escalation_timing(now: float, fired: set[tuple[str, int]], expected: list[Escalation]) -> None:
    """Each level fires once, at respond_by + after; the resolution escalation at resolve_by."""
    assert due(p2(), now, CHAIN, fired) == expected


def test_ack_stops_response_escalation_but_not_resolution() -> None:
    """An acknowledged incident escalates no more for response, but a missed resolution still counts."""
    acked = p2(acked_at=P2_RESPOND - 60, acked_by="alice")
    assert due(acked, P2_RESPOND + 2 * H, CHAIN, set()) == []
    assert due(acked, P2_RESOLVE, CHAIN, set()) == [Escalation("resolve", 0, ("lead",))]


def test_held_back_or_resolved_incidents_never_escalate() -> None:
    """A suppressed or resolved incident has no running SLA clock."""
    from watchd.core.model import IncidentStatus

    assert due(p2(suppressed_by="maintenance"), P2_RESOLVE, CHAIN, set()) == []
    assert due(p2(status=IncidentStatus.RESOLVED), P2_RESOLVE, CHAIN, set()) == []


@pytest.mark.parametrize(
    ("now", "last", "kw", "expected"),
    [
        (FRI_1630_CET + 3599, None, {}, False),
        (FRI_1630_CET + 3600, None, {}, True),
        (FRI_1630_CET + 5000, FRI_1630_CET + 3600, {}, False),
        (FRI_1630_CET + 7200, FRI_1630_CET + 3600, {}, True),
        (FRI_1630_CET + 9999, None, {"acked_at": FRI_1630_CET + 10}, False),
    ],
    ids=["not-yet", "first", "since-last", "second", "acked"],
)
def test_renotify(now: float, last: float | None, kw: dict, expected: bool) -> None:
    """Renotify every interval since the last notice while open and unacknowledged."""
    assert renotify_due(p2(**kw), now, 3600, last) is expected
    assert renotify_due(p2(**kw), now, 0, last) is False  # 0 disables it


@pytest.mark.parametrize("form", ["weekly", "cron", "cron-7"])
def test_recurring_window_keeps_local_time_over_dst(form: str) -> None:
    """Sunday 00:00-06:00 Europe/Berlin is 23:00 UTC before the spring change and 22:00 UTC after."""
    kw = {"cron": "0 0 * * 0", "cron-7": "0 0 * * 7"}.get(form)
    kw = {"cron": kw} if kw else {"days": frozenset({6})}
    w = RecurringWindow("sunday", 6 * H, "Europe/Berlin", **kw)  # type: ignore[arg-type]
    got = w.occurrences(t(2026, 3, 25), t(2026, 4, 8))
    assert [(x.starts_at, x.ends_at) for x in got] == [
        (t(2026, 3, 28, 23, 0), t(2026, 3, 29, 5, 0)),
        (t(2026, 4, 4, 22, 0), t(2026, 4, 5, 4, 0)),
    ]
    assert got[0].key == "config:sunday"


def test_windows_between_merges_and_orders() -> None:
    """Recurring occurrences and one-off downtimes together, by start; only those overlapping the span."""
    nightly = RecurringWindow("nightly", 6 * H)
    oneoff = Window("downtime:1", t(2026, 11, 24, 12), t(2026, 11, 24, 13))
    far = Window("downtime:2", t(2027, 1, 1), t(2027, 1, 2))
    got = windows_between([nightly], [oneoff, far], t(2026, 11, 24, 0), t(2026, 11, 25, 0))
    assert [w.key for w in got] == ["config:nightly", "downtime:1", "config:nightly"]


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (t(2026, 11, 30, 23, 0), 3, t(2026, 11, 26, 8, 0)),  # Tue 1 Dec 00:00 CET -> Thu 26 Nov 09:00 CET
        (t(2026, 12, 3, 23, 0), 3, t(2026, 12, 1, 8, 0)),  # Fri 4 Dec -> Tue 1 Dec
        (t(2026, 12, 28, 23, 0), 3, t(2026, 12, 23, 8, 0)),  # Tue 29 Dec, with 25 Dec a holiday
    ],
    ids=["over-weekend", "midweek", "over-holiday"],
)
def test_announce_n_business_days_ahead(start: float, days: int, expected: float) -> None:
    """Announcements go out at the opening of the Nth business day before the window's day."""
    cal = BusinessCalendar(holidays=frozenset({dt.date(2026, 12, 25)}))
    assert announce_at(start, days, cal) == expected


def test_suppression_reasons_in_order() -> None:
    """Silence first, then maintenance (scoped by check or tag), then failing parents; else None."""
    now = t(2026, 11, 24, 2, 0)
    silence = Silence(1, "shop", now - 60, now + 3600, "alice", "deploy")
    window = Window("config:nightly", now - 60, now + 60, Scope(tags=("web",)))
    assert reason("shop", (), now, [silence], [window], ["db"]).startswith("silenced by alice until")
    assert reason("shop", ("web",), now, [], [window], ["db"]).startswith("maintenance window config:nightly")
    assert reason("shop", ("db",), now, [], [window], ["db"]) == "depends on db, which is failing"
    assert reason("shop", (), now, [], [window], []) is None
    assert reason("shop", ("web",), now + 61, [], [window], []) is None  # the window has ended
    assert reason("shop", (), now + 3600, [silence], [], []) is None  # the silence has expired
