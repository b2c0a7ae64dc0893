"""Downsampling perfdata history for graphs: samples into time buckets of (min, avg, max, count).

Pure. A window of any length becomes at most `MAX_BUCKETS` buckets of a round size (1 h in 1 min
buckets, 1 d in 5 min, 1 w in 30 min, 31 d in 2 h), aligned to multiples of the size since the epoch so
the buckets do not shift as the window moves. Where there is no data the line breaks: nothing is
interpolated. Two filled buckets are drawn joined when they are neighbours, or when the samples on
either side of the empty buckets between them are no further apart than the heartbeat (as in RRD: by
default twice the usual spacing of the samples), so a check every 5 minutes still draws a line in the
1 h window and a sample a little late does not cut it.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

WINDOWS: dict[str, int] = {"1h": 3600, "1d": 86400, "1w": 7 * 86400, "1month": 31 * 86400}
MAX_BUCKETS = 400
MAX_CUT = 10_000_000  # buckets a window may be cut into with an explicit step, past which it is a mistake
# Round bucket sizes, smallest first; the first that keeps a window within MAX_BUCKETS is used.
STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 7 * 86400)

Point = tuple[float, float | None]  # (epoch seconds, value); None is a sample that said unknown ("U")
_TIME = operator.itemgetter(0)


@dataclass(frozen=True, slots=True)
class Bucket:
    start: float  # epoch seconds; the bucket is [start, start + step)
    min: float
    avg: float
    max: float
    count: int


@dataclass(frozen=True, slots=True)
class Rollup:
    """The buckets of [start, end) that hold data, oldest first, in runs drawn as one line each."""

    start: float
    end: float
    step: float
    segments: tuple[tuple[Bucket, ...], ...]

    @property
    def buckets(self) -> tuple[Bucket, ...]:
        return tuple(b for seg in self.segments for b in seg)


def window_seconds(name: str) -> int:
    """Seconds of a named window (`1h`, `1d`, `1w`, `1month`); ValueError naming the known ones."""
    try:
        return WINDOWS[name]
    except KeyError:
        raise ValueError(f"unknown graph window {name!r}: expected one of {', '.join(WINDOWS)}") from None


def bucket_size(span: float) -> float:
    """The smallest round bucket size that cuts `span` seconds into at most MAX_BUCKETS buckets (for a
    span past 400 weeks, span / MAX_BUCKETS)."""
    for step in STEPS:
        if span / step <= MAX_BUCKETS:
            return float(step)
    return span / MAX_BUCKETS


def sample_interval(times: Sequence[float]) -> float:
    """The usual spacing of sorted sample times: the median gap (an outage does not move it); 0 for
    fewer than two samples."""
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    return gaps[len(gaps) // 2] if gaps else 0.0


def rollup(
    points: Iterable[Point],
    start: float,
    end: float,
    *,
    step: float | None = None,
    heartbeat: float | None = None,
) -> Rollup:
    """Buckets of the samples in [start, end). `step` defaults to bucket_size(end - start), `heartbeat`
    to twice sample_interval. Samples outside the window and non-finite values are left out. An unknown
    value (None) between the samples of two buckets breaks the line (one between two samples of one
    bucket is below the graph's resolution). Points need not be sorted. ValueError for a window that is
    not finite, or a step that is not positive or would cut it into more than MAX_CUT buckets."""
    if not (math.isfinite(start) and math.isfinite(end)):
        raise ValueError(f"graph window must have a finite start and end, not {start!r}..{end!r}")
    size = float(step if step is not None else bucket_size(end - start))
    if not (math.isfinite(size) and size > 0):
        raise ValueError(f"bucket size must be a positive number of seconds, not {size!r}")
    if end <= start:
        return Rollup(start, end, size, ())
    if (end - start) / size > MAX_CUT:
        raise ValueError(f"bucket size {size!r} s cuts the window into more than {MAX_CUT:,} buckets")
    inside = sorted((p for p in points if start <= p[0] < end), key=_TIME)
    ts = [t for t, v in inside if v is not None and v - v == 0]  # v - v == 0: finite
    vs = [v for _, v in inside if v is not None and v - v == 0]
    unknown = [t for t, v in inside if v is None]
    if heartbeat is None:
        heartbeat = 2 * sample_interval(ts)
    origin = math.floor(start / size) * size
    segments: list[tuple[Bucket, ...]] = []
    run: list[Bucket] = []
    pos, k, n = 0, -2, len(ts)
    # Bucket by bucket, not sample by sample: each bucket's samples are found by bisection and summed
    # by min, max and sum, so a month of minutes costs a few hundred steps, not 44,640.
    while pos < n:
        previous = k
        k = max(math.floor((ts[pos] - origin) / size), k + 1)  # never one bucket twice, whatever rounding
        hi = bisect.bisect_left(ts, origin + (k + 1) * size, pos + 1)
        if run:
            last, first = ts[pos - 1], ts[pos]
            joined = k == previous + 1 or first - last <= heartbeat
            if not joined or bisect.bisect_right(unknown, last) < bisect.bisect_left(unknown, first):
                segments.append(tuple(run))
                run = []
        values = vs[pos:hi]
        low, high = min(values), max(values)
        # Clamped: rounding may put the mean of equal values a hair outside them, and a sum past the
        # largest float (values near 1e308) is inf, which the bucket's extreme stands in for.
        mean = min(max(sum(values) / len(values), low), high)
        run.append(Bucket(origin + k * size, low, mean, high, len(values)))
        pos = hi
    if run:
        segments.append(tuple(run))
    return Rollup(start, end, size, tuple(segments))


def rates(points: Iterable[Point]) -> list[Point]:
    """Per-second rates of a counter (perfdata uom `c`), as Munin's DERIVE: each at the later sample's
    time. A counter that went down (a reset or wrap) gives an unknown rate, not a negative one."""
    out: list[Point] = []
    prev: tuple[float, float] | None = None
    for t, v in sorted(points, key=_TIME):
        if v is None or not math.isfinite(v):
            out.append((t, None))
            prev = None
            continue
        if prev is not None and t > prev[0]:
            delta = v - prev[1]
            out.append((t, delta / (t - prev[0]) if delta >= 0 else None))
        prev = (t, v)
    return out
