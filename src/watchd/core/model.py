"""Core value types shared by every stage of the pipeline.

Nothing here does I/O or reads a clock: results carry the times they were given.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class State(enum.IntEnum):
    """A check state; the value is the Nagios plugin exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def is_problem(self) -> bool:
        return self is not State.OK

    @classmethod
    def parse(cls, text: str) -> State:
        """`"critical"`, `"CRITICAL"` or `"2"` -> State.CRITICAL; ValueError otherwise."""
        key = text.strip().upper()
        if key.isdigit() and int(key) in cls._value2member_map_:
            return cls(int(key))
        try:
            return cls[key]
        except KeyError:
            raise ValueError(f"not a state: {text!r} (expected OK, WARNING, CRITICAL or UNKNOWN)") from None


class StateType(enum.Enum):
    SOFT = "SOFT"
    HARD = "HARD"


@dataclass(frozen=True, slots=True)
class PerfDatum:
    """One performance data item, as in `'label'=value[UOM];[warn];[crit];[min];[max]`."""

    label: str
    value: float | None
    uom: str = ""
    warn: str | None = None
    crit: str | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one run of one check, from any source (plugin, probe, sampler, fleet).

    `exit_code` and `signal` are set only for processes; `reason` says why the state is not simply
    what the check reported (timeout, killed by a signal, exit code out of bounds, ...).
    """

    check: str
    state: State
    summary: str
    long_output: str = ""
    perfdata: tuple[PerfDatum, ...] = ()
    exit_code: int | None = None
    signal: int | None = None
    duration_s: float = 0.0
    reason: str | None = None
    started_at: float = 0.0  # UTC epoch seconds
    perfdata_errors: int = 0  # malformed perfdata items that were skipped

    def to_dict(self) -> dict[str, object]:
        return {
            "state": self.state.name,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "summary": self.summary,
            "long_output": self.long_output,
            "perfdata": [
                {
                    "label": p.label,
                    "value": p.value,
                    "uom": p.uom,
                    "warn": p.warn,
                    "crit": p.crit,
                    "min": p.min,
                    "max": p.max,
                }
                for p in self.perfdata
            ],
            "duration_s": round(self.duration_s, 6),
            "reason": self.reason,
        }


class ChangeKind(enum.Enum):
    """What a state transition means, in Nagios terms."""

    SOFT_PROBLEM = "soft_problem"  # a new or different problem, not yet confirmed
    HARD_PROBLEM = "hard_problem"  # confirmed problem (from OK, or max_attempts reached)
    HARD_CHANGE = "hard_change"  # one hard problem state to another (WARNING -> CRITICAL)
    SOFT_RECOVERY = "soft_recovery"  # OK again before the problem became hard
    HARD_RECOVERY = "hard_recovery"  # OK again after a hard problem
    FLAPPING_START = "flapping_start"
    FLAPPING_STOP = "flapping_stop"

    @property
    def is_hard(self) -> bool:
        return self in (ChangeKind.HARD_PROBLEM, ChangeKind.HARD_CHANGE, ChangeKind.HARD_RECOVERY)


@dataclass(frozen=True, slots=True)
class CheckStatus:
    """What watchd knows about one check between runs; persisted so a restart resumes it."""

    check: str
    state: State = State.OK
    state_type: StateType = StateType.HARD
    attempt: int = 1
    hard_state: State = State.OK  # last hard state, the one incidents care about
    last_check: float = 0.0
    last_change: float = 0.0  # any state change
    last_hard_change: float = 0.0
    summary: str = ""
    flapping: bool = False
    flap_history: tuple[State, ...] = field(default=())  # most recent last, bounded
    percent_state_change: float = 0.0

    @property
    def is_hard_problem(self) -> bool:
        return self.state_type is StateType.HARD and self.state.is_problem


@dataclass(frozen=True, slots=True)
class StateChange:
    """An event emitted by the state machine; incidents and the bus consume these."""

    check: str
    kind: ChangeKind
    previous: State
    state: State
    state_type: StateType
    attempt: int
    at: float  # UTC epoch seconds
    result: CheckResult


class IncidentStatus(enum.Enum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Incident:
    """A problem that needs people: one per (host, check) at a time, with an SLA clock.

    `id` is 0 until the store assigns one; `key` (derived from host, check and id) is the
    idempotency key every ticket backend uses to find the ticket it opened.
    """

    host: str
    check: str
    priority: str
    impact: str
    urgency: str
    state: State
    summary: str
    opened_at: float
    updated_at: float
    id: int = 0
    status: IncidentStatus = IncidentStatus.OPEN
    respond_by: float | None = None
    resolve_by: float | None = None
    resolved_at: float | None = None
    acked_at: float | None = None
    acked_by: str | None = None
    flapping: bool = False
    reopened: int = 0
    suppressed_by: str | None = None  # e.g. "dependency db is CRITICAL", set by later policy

    @property
    def key(self) -> str:
        return incident_key(self.host, self.check, self.id)

    @property
    def is_open(self) -> bool:
        return self.status is IncidentStatus.OPEN


def incident_key(host: str, check: str, incident_id: int) -> str:
    """A stable key safe in TicketSQL, subject tags, Message-IDs and URLs."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{host}-{check}")
    return f"watchd-{safe}-{incident_id}"
