"""Availability and SLA targets. Pure: intervals and records in, figures out; no store, no clock.

Every second of a period [start, end) is accounted exactly once, in this order of precedence:

1. after `now`: not elapsed yet, counted nowhere (a report on the running month);
2. inside an excluded interval (planned maintenance): **excluded**;
3. outside every monitored interval (the daemon was not running): **unknown**, never up;
4. otherwise **down** while the hard state is a down state (default CRITICAL and UNKNOWN; WARNING is
   degraded but up), else **up**. Soft states do not count: a problem is down once it is confirmed.

availability = up / (up + down): over the time that was measured; `availability_min` = up / (up + down
+ unknown) is the floor if every unknown second had been down. The agreed service time is the whole
period minus maintenance; the allowed downtime is (1 - target) of it (99.9 % of 30 days: 43.2 min).

The verdict weighs the downtime against the error budget of the **whole** period, so a few bad
minutes early in a month do not call it missed: **missed** once the downtime exceeds the allowed
downtime of the whole period (the month cannot recover), or when the period is over below target;
**met** when it is over at or above target; until then **on track** (availability so far at or
above target) or **at risk** (below target so far, budget not spent yet).

A service is a group of checks: it is down while any member is down outside that member's own
maintenance, and excluded only while every member is in maintenance (or a window covers the service).

About 420 lines of one arithmetic (intervals, accounting, verdicts, targets) that the tests check as
a whole; the store reads live in reports/availability.py.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from watchd.core.model import State
from watchd.core.priority import PriorityPolicy

Interval = tuple[float, float]
DEFAULT_DOWN_STATES = frozenset({State.CRITICAL, State.UNKNOWN})


# -- interval arithmetic over half-open [start, end) intervals ------------------------------------


def normalize(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-empty, merged (overlapping or touching intervals become one)."""
    out: list[Interval] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def clip(intervals: Iterable[Interval], start: float, end: float) -> list[Interval]:
    return normalize((max(a, start), min(b, end)) for a, b in intervals)


def union(*sets: Iterable[Interval]) -> list[Interval]:
    return normalize(i for s in sets for i in s)


def intersect(x: Iterable[Interval], y: Iterable[Interval]) -> list[Interval]:
    return _intersect(normalize(x), normalize(y))


def _intersect(xs: Sequence[Interval], ys: Sequence[Interval]) -> list[Interval]:
    """Intersection of two normalized lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(xs) and j < len(ys):
        a, b = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if a < b:
            out.append((a, b))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return out


def intersect_all(sets: Sequence[Iterable[Interval]]) -> list[Interval]:
    if not sets:
        return []
    out = normalize(sets[0])
    for s in sets[1:]:
        out = intersect(out, s)
    return out


def complement(intervals: Iterable[Interval], start: float, end: float) -> list[Interval]:
    """The parts of [start, end) not covered."""
    return _complement(clip(intervals, start, end), start, end)


def _complement(covered: Sequence[Interval], start: float, end: float) -> list[Interval]:
    """The complement of normalized intervals lying within [start, end)."""
    out: list[Interval] = []
    t = start
    for a, b in covered:
        if a > t:
            out.append((t, a))
        t = max(t, b)
    if t < end:
        out.append((t, end))
    return out


def subtract(x: Iterable[Interval], y: Iterable[Interval]) -> list[Interval]:
    xs = normalize(x)
    if not xs:
        return []
    return intersect(xs, complement(y, xs[0][0], xs[-1][1]))


def total(intervals: Iterable[Interval]) -> float:
    return _total(normalize(intervals))


def _total(intervals: Sequence[Interval]) -> float:
    return sum([b - a for a, b in intervals])


# -- timelines --------------------------------------------------------------------------------------


def down_intervals(
    transitions: Sequence[tuple[float, State]],
    start: float,
    end: float,
    down_states: frozenset[State] = DEFAULT_DOWN_STATES,
    initial: State = State.OK,
) -> list[Interval]:
    """When the hard state was a down state within [start, end).

    `transitions` are (at, new hard state), in time order; the state before the first one is
    `initial` (the last hard state logged before the period; OK when the check never changed)."""
    out: list[Interval] = []
    current, since = initial, start
    for at, st in transitions:
        if at >= end:
            break
        if at > since:
            if current in down_states:
                out.append((since, at))
            since = at
        current = st
    if current in down_states and end > since:
        out.append((since, end))
    return normalize(out)


# -- accounting -------------------------------------------------------------------------------------


class Verdict(enum.Enum):
    """A period's standing against its target (module docstring)."""

    MET = "met"
    MISSED = "missed"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    NO_DATA = "no_data"


@dataclass(frozen=True, slots=True)
class Availability:
    """How the seconds of one period were spent (see the module docstring for the rules)."""

    start: float
    end: float
    agreed_s: float  # the whole period minus maintenance, including the part not yet elapsed
    elapsed_s: float  # the period up to `now`
    up_s: float
    down_s: float
    excluded_s: float  # maintenance within the elapsed part
    unknown_s: float  # not monitored within the elapsed part
    outages: tuple[Interval, ...] = ()  # the down time counted, clipped to the period

    @property
    def measured_s(self) -> float:
        return self.up_s + self.down_s

    @property
    def availability(self) -> float | None:
        """Ratio 0..1 over the measured time; None when nothing was measured."""
        return self.up_s / self.measured_s if self.measured_s > 0 else None

    @property
    def availability_min(self) -> float | None:
        """The floor: as if every unknown second had been down."""
        base = self.measured_s + self.unknown_s
        return self.up_s / base if base > 0 else None

    def allowed_down_s(self, target_percent: float) -> float:
        return self.agreed_s * (100.0 - target_percent) / 100.0

    def budget_left_s(self, target_percent: float) -> float:
        """Error budget left for the period (negative when overspent)."""
        return self.allowed_down_s(target_percent) - self.down_s

    def met(self, target_percent: float) -> bool | None:
        """Whether the availability measured so far reaches the target (None: nothing measured)."""
        a = self.availability
        return None if a is None else a * 100.0 >= target_percent - 1e-9

    @property
    def complete(self) -> bool:
        """The whole period has elapsed."""
        return self.elapsed_s >= self.end - self.start

    @property
    def until(self) -> float:
        """The end of the part the figures cover: `now`, or the period's end once it is over."""
        return self.start + self.elapsed_s

    def verdict(self, target_percent: float) -> Verdict:
        """Missed once the whole period's budget is spent or when it ends below target (see above)."""
        if self.down_s > self.allowed_down_s(target_percent) + 1e-6:
            return Verdict.MISSED
        met = self.met(target_percent)
        if met is None:
            return Verdict.NO_DATA
        if self.complete:
            return Verdict.MET if met else Verdict.MISSED
        return Verdict.ON_TRACK if met else Verdict.AT_RISK


def window(intervals: Sequence[Interval], start: float, end: float) -> list[Interval]:
    """Clip already normalized intervals to [start, end): a binary search, then only the overlap."""
    i = bisect.bisect_right(intervals, start, key=lambda iv: iv[1])
    out: list[Interval] = []
    for a, b in intervals[i:]:
        if a >= end:
            break
        a, b = max(a, start), min(b, end)
        if a < b:
            out.append((a, b))
    return out


@dataclass(frozen=True, slots=True)
class Accounting:
    """Down, maintenance and monitored time, normalized once, to account many periods cheaply
    (the status page asks for 94 of them per service)."""

    down: Sequence[Interval]
    excluded: Sequence[Interval]
    monitored: Sequence[Interval]

    @classmethod
    def of(
        cls, down: Iterable[Interval], excluded: Iterable[Interval], monitored: Iterable[Interval]
    ) -> Accounting:
        return cls(normalize(down), normalize(excluded), normalize(monitored))

    def account(self, start: float, end: float, now: float) -> Availability:
        """Account [start, end) (see the module docstring for the order of precedence)."""
        excl_all = window(self.excluded, start, end)
        elapsed_end = max(start, min(end, now))
        excl = window(excl_all, start, elapsed_end)
        live = _complement(excl, start, elapsed_end) if elapsed_end > start else []
        mon = _intersect(live, window(self.monitored, start, elapsed_end))
        outages = _intersect(mon, window(self.down, start, elapsed_end))
        down_s = _total(outages)
        measured = _total(mon)
        return Availability(
            start=start,
            end=end,
            agreed_s=(end - start) - _total(excl_all),
            elapsed_s=elapsed_end - start,
            up_s=measured - down_s,
            down_s=down_s,
            excluded_s=_total(excl),
            unknown_s=_total(live) - measured,
            outages=tuple(outages),
        )


def account(
    down: Iterable[Interval],
    excluded: Iterable[Interval],
    monitored: Iterable[Interval],
    start: float,
    end: float,
    now: float,
) -> Availability:
    """Account [start, end) given when it was down, in maintenance and monitored."""
    return Accounting.of(down, excluded, monitored).account(start, end, now)


@dataclass(frozen=True, slots=True)
class CheckTimeline:
    """A check's inputs: hard-state transitions, its initial state and its maintenance."""

    transitions: Sequence[tuple[float, State]] = ()
    initial: State = State.OK
    excluded: Sequence[Interval] = ()


def check_availability(
    timeline: CheckTimeline,
    monitored: Iterable[Interval],
    start: float,
    end: float,
    now: float,
    down_states: frozenset[State] = DEFAULT_DOWN_STATES,
) -> Availability:
    down = down_intervals(timeline.transitions, start, end, down_states, timeline.initial)
    return account(down, timeline.excluded, monitored, start, end, now)


def service_availability(
    members: Mapping[str, CheckTimeline] | Sequence[CheckTimeline],
    monitored: Iterable[Interval],
    start: float,
    end: float,
    now: float,
    down_states: frozenset[State] = DEFAULT_DOWN_STATES,
    service_excluded: Iterable[Interval] = (),
) -> Availability:
    """Down while any member is down outside its own maintenance; excluded while all members are."""
    acc = service_accounting(members, monitored, start, end, down_states, service_excluded)
    return acc.account(start, end, now)


def service_accounting(
    members: Mapping[str, CheckTimeline] | Sequence[CheckTimeline],
    monitored: Iterable[Interval],
    start: float,
    end: float,
    down_states: frozenset[State] = DEFAULT_DOWN_STATES,
    service_excluded: Iterable[Interval] = (),
) -> Accounting:
    """A service's down and maintenance time over [start, end), to account periods within it."""
    timelines = list(members.values()) if isinstance(members, Mapping) else list(members)
    down = union(
        *(
            subtract(down_intervals(t.transitions, start, end, down_states, t.initial), t.excluded)
            for t in timelines
        )
    )
    excluded = union(intersect_all([t.excluded for t in timelines]), service_excluded)
    return Accounting.of(down, excluded, monitored)


# -- incident response and resolution against their targets ----------------------------------------


class TargetStatus(enum.Enum):
    MET = "met"
    BREACHED = "breached"
    PENDING = "pending"  # not done yet and still within the target
    NONE = "none"  # no target (by agreement)


@dataclass(frozen=True, slots=True)
class IncidentTimes:
    """What the SLA needs of an incident (a row of the incidents table)."""

    id: int
    check: str
    priority: str
    opened_at: float
    acked_at: float | None = None
    resolved_at: float | None = None
    response_breached_at: float | None = None
    resolution_breached_at: float | None = None


@dataclass(frozen=True, slots=True)
class TargetResult:
    target_s: float | None  # on `clock`
    taken_s: float | None  # on `clock`; so far, when not done yet
    status: TargetStatus
    clock: str = "24x7"


def clock_seconds(policy: PriorityPolicy, clock: str, start: float, end: float) -> float:
    """Elapsed time between two instants on a target's clock (24x7 or a business calendar)."""
    if end <= start:
        return 0.0
    calendar = policy.calendars.get(clock)
    if clock == "24x7" or calendar is None:
        return end - start
    return calendar.business_seconds(start, end)


def _judge(target: float | None, clock: str, taken: float, done: bool, breached_mark: bool) -> TargetResult:
    if target is None:
        return TargetResult(None, taken, TargetStatus.NONE, clock)
    if breached_mark or taken > target:
        return TargetResult(target, taken, TargetStatus.BREACHED, clock)
    return TargetResult(target, taken, TargetStatus.MET if done else TargetStatus.PENDING, clock)


def response(inc: IncidentTimes, policy: PriorityPolicy, now: float) -> TargetResult:
    """Response = first of ack and resolution, minus opening, on the priority's clock. A recorded
    breach (response_breached_at) is a breach even if the figures say otherwise."""
    t = policy.targets.get(inc.priority)
    target, clock = (t.respond, t.clock) if t is not None else (None, "24x7")
    ends = [x for x in (inc.acked_at, inc.resolved_at) if x is not None]
    done_at = min(ends) if ends else None
    taken = clock_seconds(policy, clock, inc.opened_at, done_at if done_at is not None else now)
    return _judge(target, clock, taken, done_at is not None, inc.response_breached_at is not None)


def resolution(inc: IncidentTimes, policy: PriorityPolicy, now: float) -> TargetResult:
    t = policy.targets.get(inc.priority)
    target, clock = (t.resolve, t.clock) if t is not None else (None, "24x7")
    end = inc.resolved_at if inc.resolved_at is not None else now
    taken = clock_seconds(policy, clock, inc.opened_at, end)
    return _judge(target, clock, taken, inc.resolved_at is not None, inc.resolution_breached_at is not None)


def by_deadline(opened_at: float, deadline: float | None, done_at: float | None, now: float) -> TargetResult:
    """Judged against the deadline an incident carries (respond_by, resolve_by): for readers without
    the daemon's priority policy (the console). The deadline already counts business hours."""
    end = done_at if done_at is not None else now
    taken = max(0.0, end - opened_at)
    target = None if deadline is None else max(0.0, deadline - opened_at)
    return _judge(target, "deadline", taken, done_at is not None, False)
