"""When an incident opens, changes, reopens or resolves, and at which priority. Pure policy.

HARD_PROBLEM    no open incident -> OPEN (or REOPEN the last one if it resolved < reopen_within ago)
HARD_CHANGE     open incident    -> UPDATE (priority and deadlines follow the new state)
HARD_RECOVERY   open incident    -> RESOLVE, unless the check is flapping
FLAPPING_START  -> one incident marked flapping (opened if needed); no update per flap
FLAPPING_STOP   -> RESOLVE if the check is OK by then, else UPDATE (no longer flapping)
soft changes    -> nothing: a problem is not an incident until it is confirmed
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from watchd.core.model import ChangeKind, Incident, IncidentStatus, State, StateChange
from watchd.core.priority import PriorityPolicy, more_urgent


class Action(enum.Enum):
    NONE = "none"
    OPEN = "open"
    UPDATE = "update"
    RESOLVE = "resolve"
    REOPEN = "reopen"


@dataclass(frozen=True, slots=True)
class CheckIncidentPolicy:
    """What the incident policy needs to know about one check."""

    host: str
    impact: str = "medium"
    urgency: str = "medium"
    reopen_within: float = 0.0  # seconds; 0 = a recurrence always opens a new incident
    priority: PriorityPolicy = field(default_factory=PriorityPolicy)


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    incident: Incident | None = None  # the incident after the decision
    reason: str = ""
    priority_raised: bool = False


NOTHING = Decision(Action.NONE)


def decide(
    current: Incident | None,
    last_resolved: Incident | None,
    change: StateChange,
    policy: CheckIncidentPolicy,
    now: float,
) -> Decision:
    """Decide what `change` means for the check's incident. `current` is its open incident, if any;
    `last_resolved` its most recently resolved one (for reopen_within)."""
    kind = change.kind
    summary = change.result.summary
    if kind is ChangeKind.HARD_PROBLEM or (kind is ChangeKind.HARD_CHANGE and current is None):
        if current is not None:  # already open (e.g. opened while flapping): just follow the state
            return _update(current, change, policy, now, "problem confirmed")
        if (
            last_resolved is not None
            and policy.reopen_within > 0
            and last_resolved.resolved_at is not None
            and now - last_resolved.resolved_at <= policy.reopen_within
        ):
            return _reopen(last_resolved, change, policy, now)
        return Decision(Action.OPEN, _new(change, policy, now), f"{change.state.name}: {summary}")

    if current is None:
        if kind is ChangeKind.FLAPPING_START:
            incident = replace(_new(change, policy, now), flapping=True)
            return Decision(Action.OPEN, incident, "check is flapping")
        return NOTHING

    if kind is ChangeKind.HARD_CHANGE:
        if current.flapping:
            return NOTHING  # one incident for a flapping check, not an update per flap
        return _update(current, change, policy, now, f"{change.previous.name} -> {change.state.name}")
    if kind is ChangeKind.HARD_RECOVERY:
        if current.flapping:
            return NOTHING
        return _resolve(current, change, now, "recovered")
    if kind is ChangeKind.FLAPPING_START:
        return Decision(Action.UPDATE, replace(current, flapping=True, updated_at=now), "check is flapping")
    if kind is ChangeKind.FLAPPING_STOP:
        if change.state is State.OK:
            return _resolve(replace(current, flapping=False), change, now, "stopped flapping and is OK")
        stopped = replace(current, flapping=False)
        return _update(stopped, change, policy, now, f"stopped flapping, still {change.state.name}")
    return NOTHING


def _new(change: StateChange, policy: CheckIncidentPolicy, now: float) -> Incident:
    priority = policy.priority.classify(policy.impact, policy.urgency, change.state)
    respond_by, resolve_by = policy.priority.deadlines(priority, now)
    return Incident(
        host=policy.host,
        check=change.check,
        priority=priority,
        impact=policy.impact,
        urgency=policy.urgency,
        state=change.state,
        summary=change.result.summary,
        opened_at=now,
        updated_at=now,
        respond_by=respond_by,
        resolve_by=resolve_by,
    )


def _update(
    current: Incident, change: StateChange, policy: CheckIncidentPolicy, now: float, why: str
) -> Decision:
    priority = policy.priority.classify(current.impact, current.urgency, change.state)
    raised = more_urgent(priority, current.priority)
    updated = replace(current, state=change.state, summary=change.result.summary, updated_at=now)
    if raised:
        # A more urgent priority brings its own, tighter targets, counted from when it was raised;
        # a deadline already earlier than that stays (lowering never relaxes a running SLA clock).
        respond_by, resolve_by = policy.priority.deadlines(priority, now)
        updated = replace(
            updated,
            priority=priority,
            respond_by=_earlier(current.respond_by, respond_by)
            if current.acked_at is None
            else current.respond_by,
            resolve_by=_earlier(current.resolve_by, resolve_by),
        )
    return Decision(Action.UPDATE, updated, why, priority_raised=raised)


def _reopen(last: Incident, change: StateChange, policy: CheckIncidentPolicy, now: float) -> Decision:
    fresh = _new(change, policy, now)
    incident = replace(
        last,
        status=IncidentStatus.OPEN,
        state=change.state,
        summary=change.result.summary,
        priority=fresh.priority,
        respond_by=fresh.respond_by,
        resolve_by=fresh.resolve_by,
        updated_at=now,
        resolved_at=None,
        acked_at=None,
        acked_by=None,
        reopened=last.reopened + 1,
    )
    return Decision(Action.REOPEN, incident, "problem recurred soon after recovery")


def _resolve(current: Incident, change: StateChange, now: float, why: str) -> Decision:
    incident = replace(
        current,
        status=IncidentStatus.RESOLVED,
        state=change.state,
        summary=change.result.summary,
        updated_at=now,
        resolved_at=now,
    )
    return Decision(Action.RESOLVE, incident, why)


def _earlier(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
