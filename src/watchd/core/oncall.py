"""On-call rotations: who is on duty when, as PagerDuty and Opsgenie schedules work. Pure (zoneinfo only).

A rotation stacks layers; each layer hands duty from member to member in order, every `length_days`
calendar days at the wall time of its start in its own zone (daily, weekly, "3d") or every
`length_seconds` of absolute time ("12h"). A layer with restrictions is in force only inside them
and has nobody outside, so a lower layer shows through. Later layers win over earlier ones;
overrides (a person covers a span) win over all layers, a later override over an earlier one.

Daylight saving: calendar hand-offs keep their wall time, so a daily 09:00 Europe/Berlin shift that
spans a change lasts 23 h or 25 h; a "12h" layer is exactly 43200 s. Wall times are read with
zoneinfo's fold=0 (PEP 495): a hand-off or restriction edge in the hour skipped in spring is read
with the offset before the change (02:30 on spring-forward day in Berlin is 03:30 CEST, the same
instant as 01:30 UTC), and one in the hour repeated in autumn is its first occurrence (02:30 CEST).

Shifts are merged by member: a person on duty through several layers back to back has one shift,
whose `layer` names the layer (or "override") that puts them on duty at the shift's start.
The lookahead is bounded: a stretch with no hand-off within HORIZON of the time asked about ends at
math.inf ("until further notice").

Paging policies (PageLevel, PagingPolicy) name rotations and people per escalation level;
`targets_at` resolves them for an instant.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

HORIZON = 366 * 86400.0  # how far on_duty and next_shift look ahead for the end of a stretch
OVERRIDE = "override"  # the `layer` of a shift an override gives
ROTATION_PREFIX = "rotation:"
_FIRST_WINDOW = 8 * 86400.0  # the first search window each side of `at`; doubled until the edges are found


@dataclass(frozen=True, slots=True)
class Restriction:
    """When a layer is in force: from `start` on each of `days` (0 = Monday) until `end`, that day or,
    when end <= start, the next day (a night shift fri 22:00 - sat 06:00 belongs to Friday)."""

    days: frozenset[int]
    start: dt.time
    end: dt.time


@dataclass(frozen=True, slots=True)
class Layer:
    name: str
    members: tuple[str, ...]
    timezone: str
    start: dt.datetime  # aware; members[0] is on duty from then
    length_days: int = 0  # calendar days in `timezone`, hand-off at start's wall time
    length_seconds: float = 0  # a fixed length in absolute seconds (exactly one of the two is set)
    restrictions: tuple[Restriction, ...] = ()  # empty: always in force

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError(f"layer {self.name!r} has no members")
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError(f"layer {self.name!r}: start must be an aware datetime")
        if (
            (self.length_days > 0) == (self.length_seconds > 0)
            or self.length_days < 0
            or self.length_seconds < 0
        ):
            raise ValueError(f"layer {self.name!r}: give exactly one of length_days and length_seconds")
        ZoneInfo(self.timezone)  # an unknown zone fails here, not at the first question

    def handoff(self, k: int) -> float:
        """The instant of hand-off k (k = 0 is `start`)."""
        t0 = self.start.timestamp()
        if k == 0:
            return t0
        if self.length_seconds:
            return t0 + k * self.length_seconds
        zone = ZoneInfo(self.timezone)
        local = self.start.astimezone(zone)
        day = local.date() + dt.timedelta(days=k * self.length_days)
        return dt.datetime.combine(day, local.time(), tzinfo=zone).timestamp()  # fold=0, see above

    def index(self, t: float) -> int:
        """The number of the shift in force at `t` (0 for any time before `start`)."""
        t0 = self.start.timestamp()
        if self.length_seconds:
            k = math.floor((t - t0) / self.length_seconds)
        else:
            zone = ZoneInfo(self.timezone)
            days = (dt.datetime.fromtimestamp(t, zone).date() - self.start.astimezone(zone).date()).days
            k = days // self.length_days
        k = max(k, 0)
        while k > 0 and self.handoff(k) > t:  # the estimate may be one off around a hand-off or a DST change
            k -= 1
        while self.handoff(k + 1) <= t:
            k += 1
        return k

    def member(self, k: int) -> str:
        return self.members[k % len(self.members)]


@dataclass(frozen=True, slots=True)
class Override:
    member: str
    start: float  # epoch seconds, [start, end)
    end: float


@dataclass(frozen=True, slots=True)
class Rotation:
    name: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True, slots=True)
class Shift:
    member: str
    start: float
    end: float  # math.inf: no hand-off within HORIZON
    layer: str  # the layer in force at `start`, or "override"


@dataclass(frozen=True, slots=True)
class PageLevel:
    after: float  # seconds after the incident opened (0 = at once)
    deadline: str | None = None  # "response" | "resolution": at that SLA deadline, `after` an offset
    targets: tuple[str, ...] = ()  # contact names or "rotation:NAME"


@dataclass(frozen=True, slots=True)
class PagingPolicy:
    name: str
    levels: tuple[PageLevel, ...]
    repeat: int = 0  # repeat the whole chain N times if nobody acks


# -- the timeline ---------------------------------------------------------------------------------

_Piece = tuple[float, float, str, str]  # start, end, member, layer


def schedule(rot: Rotation, start: float, end: float) -> list[Shift]:
    """The final timeline in [start, end): sorted, non-overlapping, adjacent same-member pieces merged,
    gaps (nobody on duty) left out; the first and last shift are clipped to the window."""
    if end <= start:
        return []
    layers = [_restricted(layer, _layer_pieces(layer, start, end), start, end) for layer in rot.layers]
    overrides = [(max(o.start, start), min(o.end, end), o.member, OVERRIDE) for o in rot.overrides]
    overrides = [o for o in overrides if o[0] < o[1]]
    cuts = {start, end}
    for pieces in [*layers, overrides]:
        for s, e, _, _ in pieces:
            cuts.update((s, e))
    points = sorted(cuts)
    starts = [[p[0] for p in pieces] for pieces in layers]
    out: list[Shift] = []
    for x, y in itertools.pairwise(points):
        who = _top(x, layers, starts, overrides)
        if who is None:
            continue
        member, layer = who
        if out and out[-1].member == member and out[-1].end == x:
            out[-1] = Shift(member, out[-1].start, y, out[-1].layer)
        else:
            out.append(Shift(member, x, y, layer))
    return out


def on_duty(rot: Rotation, at: float) -> Shift | None:
    """Who is on duty at `at`, with the real edges of their stretch (so "on duty until X" is true)."""
    earliest = min(
        [layer.start.timestamp() for layer in rot.layers] + [o.start for o in rot.overrides], default=at
    )
    back = ahead = _FIRST_WINDOW
    while True:
        a, b = at - back, min(at + ahead, at + HORIZON)
        found = next((s for s in schedule(rot, a, b) if s.start <= at < s.end), None)
        if found is None:
            return None
        start_known = found.start > a or a <= earliest
        end_known = found.end < b or b >= at + HORIZON
        if start_known and end_known:
            end = found.end if found.end < b else math.inf
            return Shift(found.member, found.start, end, found.layer)
        back, ahead = (back if start_known else back * 2), (ahead if end_known else ahead * 2)


def next_shift(rot: Rotation, at: float) -> Shift | None:
    """The shift after the current one: the next member from the end of the current shift, or the first
    one after a gap (nobody on duty); None when nobody comes within HORIZON."""
    current = on_duty(rot, at)
    t = at if current is None else current.end
    if math.isinf(t):
        return None
    if current is not None and (following := on_duty(rot, t)) is not None:
        return following
    ahead = _FIRST_WINDOW
    while True:
        first = next(iter(schedule(rot, t, t + min(ahead, HORIZON))), None)
        if first is not None:
            return on_duty(rot, first.start)
        if ahead >= HORIZON:
            return None
        ahead *= 2


def targets_at(targets: tuple[str, ...], rotations: Mapping[str, Rotation], at: float) -> tuple[str, ...]:
    """Contact names for a level's targets at `at`: "rotation:X" is whoever is on duty in X then (nobody
    in a gap), a contact name is itself; each name once, in order."""
    return staffing(targets, rotations, at)[0]


def staffing(
    targets: tuple[str, ...], rotations: Mapping[str, Rotation], at: float
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(targets_at, the rotations among the targets with nobody on duty at `at`), each rotation
    looked up once."""
    people: list[str] = []
    nobody: list[str] = []
    for target in targets:
        name: str | None = target
        if target.startswith(ROTATION_PREFIX):
            rotation = target.removeprefix(ROTATION_PREFIX)
            shift = on_duty(rotations[rotation], at)
            name = shift.member if shift is not None else None
            if shift is None:
                nobody.append(rotation)
        if name is not None and name not in people:
            people.append(name)
    return tuple(people), tuple(nobody)


def _top(
    x: float, layers: list[list[_Piece]], starts: list[list[float]], overrides: list[_Piece]
) -> tuple[str, str] | None:
    """Who covers instant x: the last override covering it, else the last layer that does."""
    for s, e, member, layer in reversed(overrides):
        if s <= x < e:
            return member, layer
    for pieces, keys in zip(reversed(layers), reversed(starts), strict=True):
        i = bisect.bisect_right(keys, x) - 1
        if i >= 0 and pieces[i][0] <= x < pieces[i][1]:
            return pieces[i][2], pieces[i][3]
    return None


def _layer_pieces(layer: Layer, a: float, b: float) -> list[_Piece]:
    """The layer's shifts clipped to [a, b), before restrictions; nothing before the layer's start."""
    lo = max(a, layer.start.timestamp())
    if lo >= b:
        return []
    if len(set(layer.members)) == 1:  # one person: one stretch, however many hand-offs lie in it
        return [(lo, b, layer.members[0], layer.name)]
    out = []
    k = layer.index(lo)
    begin = layer.handoff(k)
    while begin < b:
        following = layer.handoff(k + 1)
        out.append((max(begin, lo), min(following, b), layer.member(k), layer.name))
        k, begin = k + 1, following
    return out


def _restricted(layer: Layer, pieces: list[_Piece], a: float, b: float) -> list[_Piece]:
    """The pieces cut to the restriction windows (both lists sorted and disjoint: one merge pass)."""
    if not layer.restrictions or not pieces:
        return pieces
    windows = _windows(layer, a, b)
    out = []
    i = j = 0
    while i < len(pieces) and j < len(windows):
        s, e, member, name = pieces[i]
        ws, we = windows[j]
        lo, hi = max(s, ws), min(e, we)
        if lo < hi:
            out.append((lo, hi, member, name))
        if e <= we:
            i += 1
        else:
            j += 1
    return out


def _windows(layer: Layer, a: float, b: float) -> list[tuple[float, float]]:
    """The union of the layer's restriction windows within [a, b), sorted and disjoint."""
    zone = ZoneInfo(layer.timezone)
    day = dt.datetime.fromtimestamp(a, zone).date() - dt.timedelta(days=1)  # yesterday's night shift
    last = dt.datetime.fromtimestamp(b, zone).date()
    raw = []
    while day <= last:
        for r in layer.restrictions:
            if day.weekday() in r.days:
                ws = dt.datetime.combine(day, r.start, tzinfo=zone).timestamp()
                end_day = day + dt.timedelta(days=1) if r.end <= r.start else day
                we = dt.datetime.combine(end_day, r.end, tzinfo=zone).timestamp()
                if max(ws, a) < min(we, b):
                    raw.append((max(ws, a), min(we, b)))
        day += dt.timedelta(days=1)
    raw.sort()
    merged: list[tuple[float, float]] = []
    for ws, we in raw:
        if merged and ws <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], we))
        else:
            merged.append((ws, we))
    return merged
