"""Incident policy and priority, pure: literal changes, literal times, no loop."""

from __future__ import annotations

import datetime as dt

import pytest

from watchd.core.incidents import Action, CheckIncidentPolicy, decide
from watchd.core.model import ChangeKind, CheckResult, Incident, IncidentStatus, State, StateChange, StateType
from watchd.core.priority import PriorityPolicy, more_urgent, shift

K = ChangeKind
OK, W, C, U = State.OK, State.WARNING, State.CRITICAL, State.UNKNOWN
H = 3600.0
# Monday 23 Nov 2026, 10:00 CET
MON_10 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC).timestamp()
POLICY = CheckIncidentPolicy(host="web01", impact="high", urgency="high")


def change(kind: ChangeKind, prev: State, new: State, summary: str = "disk full") -> StateChange:
    return StateChange("disk", kind, prev, new, StateType.HARD, 3, MON_10, CheckResult("disk", new, summary))


def incident(**kw: object) -> Incident:
    base = dict(
        host="web01", check="disk", priority="P1", impact="high", urgency="high", state=C,
        summary="disk full", opened_at=MON_10, updated_at=MON_10, id=7,
        respond_by=MON_10 + 0.5 * H, resolve_by=MON_10 + 4 * H,
    )  # fmt: skip
    return Incident(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("urgency", "impact", "expected"),
    [
        ("high", "high", "P1"),
        ("high", "medium", "P2"),
        ("high", "low", "P3"),
        ("medium", "high", "P2"),
        ("medium", "medium", "P3"),
        ("medium", "low", "P3"),
        ("low", "high", "P3"),
        ("low", "medium", "P3"),
        ("low", "low", "P4"),
    ],
    ids=lambda v: v,
)
def test_itil_matrix(urgency: str, impact: str, expected: str) -> None:
    """The default matrix is the one in DESIGN.md and the service descriptions."""
    assert PriorityPolicy().classify(impact, urgency, C) == expected


def test_warning_lowers_urgency_by_default() -> None:
    """A WARNING is one step less urgent than a CRITICAL of the same check; shifting clamps."""
    assert PriorityPolicy().classify("high", "high", W) == "P2"
    assert shift("low", -1) == "low"
    assert shift("low", +2) == "high"
    assert more_urgent("P1", "P2")
    assert not more_urgent("P3", "P3")


def test_deadlines_per_priority() -> None:
    """P1 runs 24/7 (30 min / 4 h); P2 and P3 on business hours; P4 resolves by agreement."""
    p = PriorityPolicy()
    fri_1630 = dt.datetime(2026, 11, 27, 15, 30, tzinfo=dt.UTC).timestamp()
    assert p.deadlines("P1", fri_1630) == (fri_1630 + 0.5 * H, fri_1630 + 4 * H)
    mon_0930 = dt.datetime(2026, 11, 30, 8, 30, tzinfo=dt.UTC).timestamp()
    mon_1630_cet = dt.datetime(2026, 11, 30, 15, 30, tzinfo=dt.UTC).timestamp()
    assert p.deadlines("P2", fri_1630) == (mon_0930, mon_1630_cet)
    respond, resolve = p.deadlines("P4", fri_1630)
    assert resolve is None
    assert respond == dt.datetime(2026, 11, 30, 15, 30, tzinfo=dt.UTC).timestamp()


def test_hard_problem_opens_with_priority_and_deadlines() -> None:
    """A confirmed problem opens an incident with the matrix priority and its deadlines."""
    d = decide(None, None, change(K.HARD_PROBLEM, OK, C), POLICY, MON_10)
    assert d.action is Action.OPEN
    assert d.incident is not None
    assert (d.incident.priority, d.incident.state, d.incident.summary) == ("P1", C, "disk full")
    assert (d.incident.respond_by, d.incident.resolve_by) == (MON_10 + 0.5 * H, MON_10 + 4 * H)


@pytest.mark.parametrize(
    "kind", [K.SOFT_PROBLEM, K.SOFT_RECOVERY, K.HARD_RECOVERY, K.FLAPPING_STOP], ids=lambda k: k.value
)
def test_nothing_without_an_incident(kind: ChangeKind) -> None:
    """Soft changes, and recoveries with nothing open, decide nothing."""
    assert decide(None, None, change(kind, C, OK), POLICY, MON_10).action is Action.NONE


def test_soft_problem_with_open_incident_changes_nothing() -> None:
    """A soft change never touches an open incident."""
    assert decide(incident(), None, change(K.SOFT_PROBLEM, OK, W), POLICY, MON_10).action is Action.NONE


def test_warning_to_critical_raises_priority_and_tightens_deadlines() -> None:
    """WARNING (P2) -> CRITICAL (P1): priority raised, P1 deadlines from now, never later than before."""
    current = incident(priority="P2", state=W, respond_by=MON_10 + 1 * H, resolve_by=MON_10 + 8 * H)
    later = MON_10 + 600
    d = decide(current, None, change(K.HARD_CHANGE, W, C, "disk 99%"), POLICY, later)
    assert d.action is Action.UPDATE
    assert d.priority_raised
    assert d.incident is not None
    assert d.incident.priority == "P1"
    assert d.incident.respond_by == later + 0.5 * H
    assert d.incident.resolve_by == later + 4 * H
    assert d.incident.summary == "disk 99%"


def test_critical_to_warning_keeps_priority_and_clock() -> None:
    """A lower state updates the incident but never relaxes a running SLA clock."""
    current = incident()
    d = decide(current, None, change(K.HARD_CHANGE, C, W), POLICY, MON_10 + 60)
    assert d.action is Action.UPDATE
    assert not d.priority_raised
    assert d.incident is not None
    assert (d.incident.priority, d.incident.respond_by, d.incident.state) == ("P1", current.respond_by, W)


def test_recovery_resolves() -> None:
    """A hard recovery resolves the open incident at that time."""
    d = decide(incident(), None, change(K.HARD_RECOVERY, C, OK, "disk fine"), POLICY, MON_10 + 900)
    assert d.action is Action.RESOLVE
    assert d.incident is not None
    assert (d.incident.status, d.incident.resolved_at, d.incident.state) == (
        IncidentStatus.RESOLVED, MON_10 + 900, OK,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("resolved_ago", "reopen_within", "expected"),
    [(600, 3600, Action.REOPEN), (7200, 3600, Action.OPEN), (60, 0, Action.OPEN)],
    ids=["within-window", "after-window", "disabled"],
)
def test_reopen_within(resolved_ago: float, reopen_within: float, expected: Action) -> None:
    """A recurrence soon after resolution reopens the same incident (and ticket) if configured."""
    last = incident(status=IncidentStatus.RESOLVED, resolved_at=MON_10, state=OK)
    policy = CheckIncidentPolicy("web01", "high", "high", reopen_within)
    d = decide(None, last, change(K.HARD_PROBLEM, OK, C), policy, MON_10 + resolved_ago)
    assert d.action is expected
    assert d.incident is not None
    if expected is Action.REOPEN:
        assert (d.incident.id, d.incident.reopened, d.incident.status) == (7, 1, IncidentStatus.OPEN)
        assert d.incident.respond_by == MON_10 + resolved_ago + 0.5 * H
    else:
        assert d.incident.id == 0  # a new incident; the store assigns its id


def test_flapping_is_one_incident() -> None:
    """Flapping opens (or marks) one incident; flaps do not update or resolve it; the stop resolves it."""
    d = decide(None, None, change(K.FLAPPING_START, C, OK), POLICY, MON_10)
    assert d.action is Action.OPEN
    assert d.incident is not None
    assert d.incident.flapping
    flapping = incident(flapping=True)
    for kind, prev, new in ((K.HARD_RECOVERY, C, OK), (K.HARD_CHANGE, C, W)):
        assert decide(flapping, None, change(kind, prev, new), POLICY, MON_10).action is Action.NONE
    d = decide(flapping, None, change(K.HARD_PROBLEM, OK, C), POLICY, MON_10)
    assert d.action is Action.UPDATE
    d = decide(flapping, None, change(K.FLAPPING_STOP, C, OK), POLICY, MON_10 + 60)
    assert d.action is Action.RESOLVE
    assert d.incident is not None
    assert not d.incident.flapping
    d = decide(flapping, None, change(K.FLAPPING_STOP, OK, C), POLICY, MON_10 + 60)
    assert d.action is Action.UPDATE
    assert d.incident is not None
    assert not d.incident.flapping


def test_flapping_marks_an_open_incident() -> None:
    """Flapping that starts while an incident is open marks that incident."""
    d = decide(incident(), None, change(K.FLAPPING_START, C, OK), POLICY, MON_10)
    assert d.action is Action.UPDATE
    assert d.incident is not None
    assert d.incident.flapping
