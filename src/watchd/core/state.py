"""The soft/hard state machine and flap detection, as Nagios Core defines them. Pure: no I/O, no clock.

hard OK   + problem -> SOFT_PROBLEM (attempt 1), or HARD_PROBLEM when max_attempts == 1
soft      + problem -> attempt + 1; HARD_PROBLEM once attempt reaches max_attempts
soft      + OK      -> SOFT_RECOVERY (back to hard OK; nothing was announced)
hard prob + other problem state -> HARD_CHANGE at once (no soft phase between problems)
hard prob + OK      -> HARD_RECOVERY at once
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from watchd.core.model import ChangeKind, CheckResult, CheckStatus, State, StateChange, StateType

FLAP_WINDOW = 21  # results, as Nagios' MAX_STATE_HISTORY_ENTRIES
_LOW_WEIGHT, _HIGH_WEIGHT = 0.75, 1.25  # older changes count less, as in Nagios


@dataclass(frozen=True, slots=True)
class StatePolicy:
    max_attempts: int = 3
    flap_detection: bool = True
    flap_low: float = 5.0  # percent state change below which flapping stops
    flap_high: float = 20.0  # percent state change above which flapping starts


def step(
    prev: CheckStatus, result: CheckResult, now: float, policy: StatePolicy
) -> tuple[CheckStatus, list[StateChange]]:
    """Apply one result to the previous status; return the new status and the events it caused."""
    new = result.state
    kind: ChangeKind | None = None
    state_type = StateType.HARD
    attempt = 1

    if prev.state_type is StateType.SOFT:  # a soft problem is being confirmed
        if new is State.OK:
            kind = ChangeKind.SOFT_RECOVERY
        else:
            attempt = prev.attempt + 1
            if attempt >= policy.max_attempts:
                attempt = policy.max_attempts
                kind = ChangeKind.HARD_PROBLEM
            else:
                state_type = StateType.SOFT
                kind = ChangeKind.SOFT_PROBLEM if new is not prev.state else None
    elif prev.state.is_problem:  # hard problem
        if new is State.OK:
            kind = ChangeKind.HARD_RECOVERY
        else:
            attempt = prev.attempt  # stays at the attempt that made it hard, as Nagios shows it
            if new is not prev.state:
                kind = ChangeKind.HARD_CHANGE
    elif new.is_problem:  # hard OK
        if policy.max_attempts <= 1:
            kind = ChangeKind.HARD_PROBLEM
        else:
            state_type = StateType.SOFT
            kind = ChangeKind.SOFT_PROBLEM

    hard_state = new if state_type is StateType.HARD else prev.hard_state
    history = (*prev.flap_history, new)[-FLAP_WINDOW:]
    percent = percent_state_change(history)
    status = replace(
        prev,
        state=new,
        state_type=state_type,
        attempt=attempt,
        hard_state=hard_state,
        last_check=now,
        last_change=now if new is not prev.state else prev.last_change,
        last_hard_change=now if kind is not None and kind.is_hard else prev.last_hard_change,
        summary=result.summary,
        flap_history=history,
        percent_state_change=percent,
    )

    changes: list[StateChange] = []
    if kind is not None:
        changes.append(StateChange(prev.check, kind, prev.state, new, state_type, attempt, now, result))
    if policy.flap_detection:
        if not prev.flapping and percent > policy.flap_high:
            status = replace(status, flapping=True)
            changes.append(
                StateChange(
                    prev.check, ChangeKind.FLAPPING_START, prev.state, new, state_type, attempt, now, result
                )
            )
        elif prev.flapping and percent < policy.flap_low:
            status = replace(status, flapping=False)
            changes.append(
                StateChange(
                    prev.check, ChangeKind.FLAPPING_STOP, prev.state, new, state_type, attempt, now, result
                )
            )
    elif prev.flapping:
        status = replace(status, flapping=False)
    return status, changes


def percent_state_change(history: tuple[State, ...]) -> float:
    """Weighted percentage of state changes over the last FLAP_WINDOW results (Nagios' curve).

    A short history is padded with its oldest state, as Nagios fills the window with the initial
    state, so that the first change of a new check does not look like 100 % flapping.
    """
    if len(history) < 2:
        return 0.0
    padded = (history[0],) * (FLAP_WINDOW - len(history)) + history
    weighted = 0.0
    for i in range(1, FLAP_WINDOW):
        if padded[i] is not padded[i - 1]:
            weighted += _LOW_WEIGHT + (i - 1) * (_HIGH_WEIGHT - _LOW_WEIGHT) / (FLAP_WINDOW - 2)
    return weighted * 100.0 / (FLAP_WINDOW - 1)


def uses_retry_interval(status: CheckStatus) -> bool:
    """Nagios reschedules at the retry interval while a problem is soft (being confirmed)."""
    return status.state_type is StateType.SOFT


def significant(prev: CheckStatus, new: CheckStatus) -> bool:
    """Whether the change must be persisted at once (a restart must not lose it)."""
    return (
        prev.state is not new.state
        or prev.state_type is not new.state_type
        or prev.attempt != new.attempt
        or prev.flapping != new.flapping
    )
