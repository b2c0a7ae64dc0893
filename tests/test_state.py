"""The soft/hard state machine and flap detection, driven with literal results and times."""

from __future__ import annotations

import itertools

import pytest

from watchd.core.model import ChangeKind, CheckResult, CheckStatus, State, StateType
from watchd.core.state import (
    FLAP_WINDOW,
    StatePolicy,
    percent_state_change,
    significant,
    step,
    uses_retry_interval,
)

OK, W, C, U = State.OK, State.WARNING, State.CRITICAL, State.UNKNOWN
NO_FLAP = StatePolicy(max_attempts=3, flap_detection=False)


def run(states: list[State], policy: StatePolicy = NO_FLAP, start: CheckStatus | None = None):
    """Feed a sequence of result states; return (final status, [(kind, state, type, attempt) per result])."""
    status = start or CheckStatus("web")
    trace = []
    for i, s in enumerate(states):
        status, changes = step(status, CheckResult("web", s, f"r{i}"), 1000.0 + i, policy)
        trace.append(([c.kind for c in changes], status.state, status.state_type, status.attempt))
    return status, trace


SOFT, HARD = StateType.SOFT, StateType.HARD
K = ChangeKind


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([OK, OK], [([], OK, HARD, 1), ([], OK, HARD, 1)]),
        (
            [C, C, C, C],
            [
                ([K.SOFT_PROBLEM], C, SOFT, 1),
                ([], C, SOFT, 2),
                ([K.HARD_PROBLEM], C, HARD, 3),
                ([], C, HARD, 3),
            ],
        ),
        (
            [C, OK],
            [([K.SOFT_PROBLEM], C, SOFT, 1), ([K.SOFT_RECOVERY], OK, HARD, 1)],
        ),
        (
            [C, C, C, OK],
            [
                ([K.SOFT_PROBLEM], C, SOFT, 1),
                ([], C, SOFT, 2),
                ([K.HARD_PROBLEM], C, HARD, 3),
                ([K.HARD_RECOVERY], OK, HARD, 1),
            ],
        ),
        (
            [W, C, C],
            [([K.SOFT_PROBLEM], W, SOFT, 1), ([K.SOFT_PROBLEM], C, SOFT, 2), ([K.HARD_PROBLEM], C, HARD, 3)],
        ),
        (
            [C, C, C, W, U, U],
            [
                ([K.SOFT_PROBLEM], C, SOFT, 1),
                ([], C, SOFT, 2),
                ([K.HARD_PROBLEM], C, HARD, 3),
                ([K.HARD_CHANGE], W, HARD, 3),
                ([K.HARD_CHANGE], U, HARD, 3),
                ([], U, HARD, 3),
            ],
        ),
    ],
    ids=["steady-ok", "soft-to-hard", "soft-recovery", "hard-recovery", "changing-soft", "hard-changes"],
)
def test_sequences(states: list[State], expected: list[tuple]) -> None:
    """Nagios soft/hard semantics over typical sequences (max_attempts=3)."""
    _, trace = run(states)
    assert trace == expected


def test_max_attempts_one_is_hard_at_once() -> None:
    """With max_attempts 1 the first problem is already hard."""
    _, trace = run([C], StatePolicy(max_attempts=1, flap_detection=False))
    assert trace == [([K.HARD_PROBLEM], C, HARD, 1)]


def test_lowered_max_attempts_on_reload_confirms_at_next_result() -> None:
    """A soft problem at attempt 3 under a new max_attempts of 2 becomes hard on the next problem."""
    status, _ = run([C, C], StatePolicy(max_attempts=5, flap_detection=False))
    status, trace = run([C], StatePolicy(max_attempts=2, flap_detection=False), start=status)
    assert trace == [([K.HARD_PROBLEM], C, HARD, 2)]


def test_hard_state_and_times() -> None:
    """hard_state follows hard changes only; last_change and last_hard_change are the event times."""
    status, _ = run([C, C])
    assert status.hard_state is OK
    assert status.last_change == 1000.0
    status, _ = run([C], start=status)
    assert status.hard_state is C
    assert status.last_hard_change == 1000.0  # run() restarts its clock at 1000 for the new sequence


@pytest.mark.parametrize(
    "states", list(itertools.product([OK, W, C, U], repeat=4)), ids=lambda s: "-".join(x.name[0] for x in s)
)
def test_invariants_for_every_sequence(states: tuple[State, ...]) -> None:
    """For every 4-result sequence: hard states need max_attempts consecutive problems or a prior hard
    problem; at most one state event per result; a hard event always updates hard_state."""
    status = CheckStatus("web")
    consecutive = 0
    for i, s in enumerate(states):
        prev = status
        status, changes = step(prev, CheckResult("web", s, ""), float(i), NO_FLAP)
        consecutive = consecutive + 1 if s.is_problem else 0
        assert status.state is s
        assert len(changes) <= 1
        if s.is_problem and status.state_type is HARD:
            assert consecutive >= 3 or prev.is_hard_problem
        if status.state_type is SOFT:
            assert 1 <= status.attempt < 3
        for c in changes:
            if c.kind.is_hard:
                assert status.hard_state is s
        assert uses_retry_interval(status) == (status.state_type is SOFT)


def test_percent_state_change_weights_recent_changes_more() -> None:
    """One change at the newest end weighs more than one at the oldest end; none is zero."""
    steady = (OK,) * FLAP_WINDOW
    newest = (OK,) * (FLAP_WINDOW - 1) + (C,)
    oldest = (C,) + (OK,) * (FLAP_WINDOW - 1)
    assert percent_state_change(steady) == 0.0
    assert percent_state_change(newest) == pytest.approx(1.25 * 100 / 20)
    assert percent_state_change(oldest) == pytest.approx(0.75 * 100 / 20)


def test_short_history_is_not_flapping() -> None:
    """A new check's first state change is not 100 % flapping (the window is padded)."""
    assert percent_state_change((OK, C)) < 10


def test_flapping_starts_and_stops_once() -> None:
    """Alternating results start flapping once; a steady run stops it once."""
    policy = StatePolicy(max_attempts=1, flap_detection=True, flap_low=5.0, flap_high=20.0)
    status, trace = run([OK, C] * 6 + [OK] * 25, policy)
    kinds = [k for t in trace for k in t[0]]
    assert kinds.count(K.FLAPPING_START) == 1
    assert kinds.count(K.FLAPPING_STOP) == 1
    assert kinds.index(K.FLAPPING_START) < kinds.index(K.FLAPPING_STOP)
    assert not status.flapping


def test_significant_ignores_only_time_and_summary() -> None:
    """Only a change of state, type, attempt or flapping must be written at once."""
    a = CheckStatus("x")
    b, _ = step(a, CheckResult("x", OK, "new summary"), 5.0, NO_FLAP)
    assert not significant(a, b)
    c, _ = step(b, CheckResult("x", C, ""), 6.0, NO_FLAP)
    assert significant(b, c)
