"""ITIL priority: impact x urgency -> P1..P4, and the SLA targets each priority carries. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from watchd.core.businesshours import BusinessCalendar
from watchd.core.model import State

LEVELS = ("high", "medium", "low")
PRIORITIES = ("P1", "P2", "P3", "P4")

# urgency -> impact -> priority (DESIGN.md; the same matrix as the service descriptions)
DEFAULT_MATRIX: Mapping[str, Mapping[str, str]] = {
    "high": {"high": "P1", "medium": "P2", "low": "P3"},
    "medium": {"high": "P2", "medium": "P3", "low": "P3"},
    "low": {"high": "P3", "medium": "P3", "low": "P4"},
}

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Target:
    respond: float | None  # seconds on `clock`; None = by agreement
    resolve: float | None
    clock: str = "24x7"  # or the name of a business calendar


DEFAULT_TARGETS: Mapping[str, Target] = {
    "P1": Target(0.5 * HOUR, 4 * HOUR, "24x7"),
    "P2": Target(1 * HOUR, 8 * HOUR, "business"),
    "P3": Target(4 * HOUR, 16 * HOUR, "business"),
    "P4": Target(8 * HOUR, None, "business"),  # respond within one business day (8 h)
}

# By default a WARNING is one step less urgent than the check's configured urgency.
DEFAULT_URGENCY_SHIFT: Mapping[State, int] = {State.WARNING: -1}


@dataclass(frozen=True, slots=True)
class PriorityPolicy:
    matrix: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: DEFAULT_MATRIX)
    targets: Mapping[str, Target] = field(default_factory=lambda: DEFAULT_TARGETS)
    urgency_shift: Mapping[State, int] = field(default_factory=lambda: DEFAULT_URGENCY_SHIFT)
    calendars: Mapping[str, BusinessCalendar] = field(
        default_factory=lambda: {"business": BusinessCalendar()}
    )

    def classify(self, impact: str, urgency: str, state: State) -> str:
        """The priority of a problem in `state` for a check with this impact and urgency."""
        shifted = shift(urgency, self.urgency_shift.get(state, 0))
        return self.matrix[shifted][impact]

    def deadline(self, start: float, seconds: float | None, clock: str) -> float | None:
        if seconds is None:
            return None
        if clock == "24x7":
            return start + seconds
        return self.calendars[clock].add(start, seconds)

    def deadlines(self, priority: str, start: float) -> tuple[float | None, float | None]:
        """(respond_by, resolve_by) for an incident of this priority opened at `start`."""
        t = self.targets[priority]
        return self.deadline(start, t.respond, t.clock), self.deadline(start, t.resolve, t.clock)


def shift(urgency: str, steps: int) -> str:
    """Move urgency up (+) or down (-) the scale, clamped: shift("medium", -1) == "low"."""
    i = LEVELS.index(urgency) - steps
    return LEVELS[min(max(i, 0), len(LEVELS) - 1)]


def more_urgent(a: str, b: str) -> bool:
    """True when priority a is more urgent than b (P1 before P2)."""
    return PRIORITIES.index(a) < PRIORITIES.index(b)
