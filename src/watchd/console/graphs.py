"""Resource graphs as SVG, drawn on the server as Munin draws them: no script, no external resource.

Pure: `render(...)` turns rolled-up perfdata (see rollup) into one SVG document, the same text for the
same input. Per series the band between each bucket's min and max is shaded and the average is the
line; the line breaks where the rollup has a gap. Warning and critical thresholds (Nagios ranges, as
perfdata carries them) are dashed lines; below the graph a legend gives each series' last, min, avg
and max, as Munin's does. `sparkline(...)` is the small trend for a dashboard row.

The markup suits both an `<img>` and inlining into a page: presentation attributes only (no `<style>`,
which would leak into the page, and which a strict CSP blocks), no ids (two graphs on one page must
not collide), text in `currentColor` (so a dark page gets light text). Every text from outside (title,
series names, thresholds) is escaped, and characters XML cannot carry are replaced.
"""

from __future__ import annotations

import html
import math
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watchd.console.axes import Unit, ValueAxis, format_value, time_ticks, unit, value_axis
from watchd.console.rollup import Rollup
from watchd.core import timefmt
from watchd.nagios.range import Range

# Munin's palette, in its order.
COLOURS = (
    "#00cc00", "#0066b3", "#ff8000", "#ffcc00", "#330099", "#990099", "#ccff00", "#ff0000",
    "#808080", "#008f00", "#00487d", "#b35a00", "#b38f00", "#6b006b", "#8fb300", "#b30000",
)  # fmt: skip
WARN_COLOUR = "#e69f00"
CRIT_COLOUR = "#d00000"
MIN_WIDTH, MIN_HEIGHT = 160, 80

_FONT = 11  # px; text widths are estimated at 0.6 em a character (no font metrics on the server)
_CHAR = _FONT * 0.6
_ROW = 15  # legend row height
_TOP, _RIGHT, _BOTTOM = 28, 16, 22  # margins of the plot area; the left one fits the value labels
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a graph: a name (a perfdata label, shown escaped) and its rollup."""

    name: str
    rollup: Rollup


@dataclass(frozen=True, slots=True)
class Plot:
    """Where the data goes inside the image: x from left to right, y from top to bottom."""

    left: float
    top: float
    right: float
    bottom: float


def escape(text: str) -> str:
    """Text for XML content or a quoted attribute; characters XML 1.0 cannot hold (controls, lone
    surrogates) become U+FFFD."""
    return html.escape(_INVALID_XML.sub("\ufffd", text), quote=True)


Threshold = Range | str | float | None  # as perfdata carries it (text), or already read


def read_threshold(spec: Threshold) -> float | Range | None:
    """A plain number, a range, or None for no threshold or one that is neither. A plain number is
    kept even where the range syntax refuses it (`-10`: Icinga 2 reads warn and crit as numbers)."""
    if spec is None or isinstance(spec, bool):
        return None
    if isinstance(spec, int | float):
        return float(spec) if math.isfinite(spec) else None
    if isinstance(spec, Range):
        return spec
    text = spec.strip()
    if _NUMBER.fullmatch(text):
        number = float(text)
        return number if math.isfinite(number) else None
    try:
        return Range.parse(text)
    except ValueError:
        return None  # the perfdata parser keeps no such threshold; one from elsewhere draws nothing


def threshold_lines(spec: Threshold) -> tuple[float, ...]:
    """Where a threshold is drawn: at a plain number, or at the finite ends of a range (`10` and `~:10`
    at 10, `10:20` and `@10:20` at both) except a start of 0, which only says "below zero"."""
    t = read_threshold(spec)
    if t is None or isinstance(t, float):
        return () if t is None else (t,)
    ends = [t.start] if math.isfinite(t.start) and t.start != 0 else []
    if math.isfinite(t.end) and t.end not in ends:
        ends.append(t.end)
    return tuple(ends)


def describe_threshold(spec: Threshold, u: Unit) -> str:
    """When a threshold alerts, in words and the graph's units: `above 12.0 GB`, `outside 10 to 20`,
    `at most 5 ms`; as written if it cannot be read."""
    t = read_threshold(spec)
    if t is None:
        return f"{spec}{u.uom}"
    if isinstance(t, float):
        return f"above {format_value(t * u.factor, u)}"
    low = None if t.start == -math.inf else format_value(t.start * u.factor, u)
    high = None if t.end == math.inf else format_value(t.end * u.factor, u)
    if t.inside:
        if low is None:
            return "always" if high is None else f"at most {high}"
        return f"at least {low}" if high is None else f"{low} to {high}"
    if high is None:
        return "never" if low is None else f"below {low}"
    return f"above {high}" if low is None or t.start == 0 else f"outside {low} to {high}"


def _value_axis(
    lines: Sequence[_Line], limits: Sequence[float], pinned: Sequence[float], u: Unit
) -> ValueAxis | None:
    """The value axis: the data, from zero for amounts (Munin's `-l 0`), the perfdata min and max, and
    the thresholds near enough to show (a warning at 95% over data at 3% would flatten the line: that
    one is only named in the legend). None without data."""
    drawn = [ln for ln in lines if ln.low is not None and ln.high is not None]
    if not drawn:
        return None
    lo = min(ln.low for ln in drawn if ln.low is not None)
    hi = max(ln.high for ln in drawn if ln.high is not None)
    if lo >= 0:
        lo = 0.0
    reach = (hi / 2 - lo / 2) * 2 or abs(hi) or 1.0
    near = [v for v in limits if lo - reach <= v <= hi + reach]
    values = [v for v in (lo, hi, *near, *pinned) if math.isfinite(v)]
    return value_axis(min(values), max(values), u)


@dataclass(frozen=True, slots=True)
class _Run:
    """One run of buckets, as columns in the base unit: bucket middles, minima, averages, maxima and
    sample counts."""

    t: list[float]
    low: list[float]
    avg: list[float]
    high: list[float]
    count: list[int]


@dataclass(frozen=True, slots=True)
class _Line:
    name: str
    runs: list[_Run]
    last: float | None
    low: float | None
    avg: float | None
    high: float | None


_START, _COUNT = operator.attrgetter("start"), operator.attrgetter("count")
_VALUES = (operator.attrgetter("min"), operator.attrgetter("avg"), operator.attrgetter("max"))


def _finite(x: float) -> bool:
    return x - x == 0  # False for inf and NaN; cheaper than math.isfinite in the hot loop


def _prepare(s: Series, factor: float) -> _Line:
    """The series in the base unit; a bucket with a value that is not finite (or overflows in the
    conversion) is dropped."""
    half = s.rollup.step / 2
    runs: list[_Run] = []
    for seg in s.rollup.segments:
        columns = [
            [t + half for t in map(_START, seg)],
            *([v * factor for v in map(get, seg)] if factor != 1 else list(map(get, seg)) for get in _VALUES),
            [n if n > 1 else 1 for n in map(_COUNT, seg)],
        ]
        if not all(_finite(sum(c)) for c in columns[:4]):  # rare: look at each bucket
            rows = [r for r in zip(*columns, strict=True) if all(_finite(x) for x in r[:4])]
            columns = [list(c) for c in zip(*rows, strict=True)]
        if columns and columns[0]:
            runs.append(_Run(*columns))
    if not runs:
        return _Line(s.name, [], None, None, None, None)
    weight = sum(sum(r.count) for r in runs)
    mean = sum(sum(map(operator.mul, r.avg, r.count)) for r in runs) / weight
    if not _finite(mean):  # the sum overflowed: divide each term first
        mean = sum(a * (n / weight) for r in runs for a, n in zip(r.avg, r.count, strict=True))
    return _Line(
        s.name, runs, runs[-1].avg[-1], min(min(r.low) for r in runs), mean, max(max(r.high) for r in runs)
    )


@dataclass(frozen=True, slots=True)
class _Frame:
    """Maps times and values to pixels, clamped to the plot area. Halves throughout: end - start (or
    the axis' span) may overflow, their halves cannot."""

    plot: Plot
    start: float
    end: float
    low: float
    high: float

    def x(self, t: float) -> float:
        return self.xs([t])[0]

    def y(self, v: float) -> float:
        return self.ys([v])[0]

    def xs(self, ts: Sequence[float]) -> list[float]:
        left, right = self.plot.left, self.plot.right
        scale = (right - left) / (self.end / 2 - self.start / 2) / 2
        xs = [(t - self.start) * scale + left for t in ts] if _finite(self.end - self.start) else []
        if not xs or not _finite(sum(xs)):  # a window past the largest float: the slow, safe way
            s2 = self.start / 2
            xs = [left + (t / 2 - s2) * scale * 2 for t in ts]
        if xs and left <= min(xs) and max(xs) <= right:  # the usual case: no clamping per point
            return xs
        return [left if x < left else right if x > right else x for x in xs]

    def ys(self, vs: Sequence[float]) -> list[float]:
        top, bottom = self.plot.top, self.plot.bottom
        scale = (bottom - top) / (self.high / 2 - self.low / 2) / 2
        ys = [bottom - (v - self.low) * scale for v in vs] if _finite(self.high - self.low) else []
        if not ys or not _finite(sum(ys)):
            l2 = self.low / 2
            ys = [bottom - (v / 2 - l2) * scale * 2 for v in vs]
        if ys and top <= min(ys) and max(ys) <= bottom:
            return ys
        return [top if y < top else bottom if y > bottom else y for y in ys]


def _points(xs: Sequence[float], ys: Sequence[float]) -> str:
    """`x yLx y...`: one format of all the numbers at once, twice as fast as one per point (this is
    the hot loop of a graph)."""
    flat = [0.0] * (2 * len(xs))
    flat[::2], flat[1::2] = xs, ys
    return ("%.1f %.1fL" * len(xs))[:-1] % tuple(flat)


def render(
    series: Sequence[Series],
    start: float,
    end: float,
    *,
    title: str,
    now: float,
    unit_of_measure: str = "",
    warn: Threshold = None,
    crit: Threshold = None,
    low: float | None = None,
    high: float | None = None,
    tz: str = "UTC",
    width: int = 720,
    height: int = 240,
) -> str:
    """The SVG document of a graph of [start, end] (epoch seconds). `unit_of_measure` is the perfdata
    uom of every series; `warn` and `crit` its thresholds (in that unit); `low` and `high` its min and
    max, which the value axis always covers. Time labels are in zone `tz`, as is the "last update" time
    `now`. `height` is the graph's without the legend, which adds a row per series (as Munin's does).
    ValueError for a window that is not finite or shorter than a second, or a size below
    MIN_WIDTH x MIN_HEIGHT."""
    if not (math.isfinite(start) and math.isfinite(end) and end - start >= 1):
        raise ValueError(f"graph window must be finite and at least a second long, not {start!r}..{end!r}")
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise ValueError(f"graph must be at least {MIN_WIDTH}x{MIN_HEIGHT} px, not {width}x{height}")
    zone = _zone(tz)
    u = unit(unit_of_measure)
    lines = [_prepare(s, u.factor) for s in series]
    limits = {
        "warn": [v * u.factor for v in threshold_lines(warn)],
        "crit": [v * u.factor for v in threshold_lines(crit)],
    }
    pinned = [v * u.factor for v in (low, high) if v is not None and math.isfinite(v)]
    axis = _value_axis(lines, [*limits["warn"], *limits["crit"]], pinned, u)

    label_chars = max((len(label) for _, label in axis.ticks), default=0) if axis else 0
    plot = Plot(min(max(12 + label_chars * _CHAR, 24.0), width / 2), _TOP, width - _RIGHT, height - _BOTTOM)
    frame = _Frame(plot, start, end, axis.low if axis else 0.0, axis.high if axis else 1.0)
    limits_text = _limits_text(warn, crit, u)
    rows = (len(lines) + 1 if lines else 0) + (1 if limits_text else 0)
    total = height + 4 + rows * _ROW + _ROW
    summary = _summary(title, lines, u, limits_text)
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total}" '
            f'viewBox="0 0 {width} {total}" role="img" aria-label="{escape(summary)}" '
            f'font-family="sans-serif" font-size="{_FONT}">'
            f"<title>{escape(title)}</title><desc>{escape(summary)}</desc>"
            f'<text class="title" x="{width / 2:.1f}" y="17" text-anchor="middle" font-size="13" '
            f'font-weight="bold" fill="currentColor">{escape(_fit(title, width - 8, 13 * 0.6))}</text>',
            *_axes(frame, axis, zone),
            *(_data(lines, frame, limits) if axis is not None else _no_data(plot)),
            f'<rect class="frame" x="{plot.left:.1f}" y="{plot.top:.1f}" '
            f'width="{plot.right - plot.left:.1f}" height="{plot.bottom - plot.top:.1f}" fill="none" '
            'stroke="currentColor" stroke-opacity="0.5"/>',
            _legend(lines, u, limits_text, width, height + 4),
            f'<text class="updated" x="{width - _RIGHT}" y="{total - 4}" text-anchor="end" '
            f'fill="currentColor" fill-opacity="0.6" font-size="9">'
            f"{escape(f'Last update {timefmt.local(now, tz)}')}</text></svg>",
        ]
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return timefmt.zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} for a graph (an IANA name, as Europe/Berlin)") from None


def _axes(frame: _Frame, axis: ValueAxis | None, zone: ZoneInfo) -> list[str]:
    """The grid and the labels of both axes. One time label per 70 px, none at the very edges, where
    it would run into the value labels or off the image."""
    plot = frame.plot
    x_ticks = [
        (ts, label)
        for ts, label in time_ticks(frame.start, frame.end, zone, max(1, int((plot.right - plot.left) // 70)))
        if plot.left + 10 <= frame.x(ts) <= plot.right - 10
    ]
    y_ticks = axis.ticks if axis is not None else ()
    grid = [f"M{frame.x(t):.1f} {plot.top:.1f}V{plot.bottom:.1f}" for t, _ in x_ticks]
    grid += [f"M{plot.left:.1f} {frame.y(v):.1f}H{plot.right:.1f}" for v, _ in y_ticks]
    out = []
    if grid:
        out.append(
            f'<path class="grid" d="{"".join(grid)}" fill="none" stroke="currentColor" '
            'stroke-opacity="0.15"/>'
        )
    y = plot.bottom + 14
    out.append('<g class="x-ticks" fill="currentColor" text-anchor="middle">')
    out += [f'<text x="{frame.x(t):.1f}" y="{y:.1f}">{escape(label)}</text>' for t, label in x_ticks]
    out.append("</g>")
    if y_ticks:
        x = plot.left - 4
        out.append('<g class="y-ticks" fill="currentColor" text-anchor="end">')
        out += [f'<text x="{x:.1f}" y="{frame.y(v) + 4:.1f}">{escape(label)}</text>' for v, label in y_ticks]
        out.append("</g>")
    return out


def _data(lines: Sequence[_Line], frame: _Frame, limits: dict[str, list[float]]) -> list[str]:
    """Every band first, then the lines over them, then the thresholds within the axis."""
    out = []
    for i, ln in enumerate(lines):
        band = _band(ln, frame)
        if band:
            colour = COLOURS[i % len(COLOURS)]
            out.append(f'<path class="band" d="{band}" fill="{colour}" fill-opacity="0.25" stroke="none"/>')
    for i, ln in enumerate(lines):
        if ln.runs:
            out.append(
                f'<path class="avg" d="{_avg(ln, frame)}" fill="none" stroke="{COLOURS[i % len(COLOURS)]}" '
                'stroke-width="1.5" stroke-linejoin="round" stroke-linecap="round"/>'
            )
    left, right = frame.plot.left, frame.plot.right
    for kind, colour in (("warn", WARN_COLOUR), ("crit", CRIT_COLOUR)):
        for v in limits[kind]:
            if frame.low <= v <= frame.high:
                y = frame.y(v)
                out.append(
                    f'<line class="{kind}" x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" '
                    f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="6 4"/>'
                )
    return out


def _no_data(plot: Plot) -> list[str]:
    x, y = (plot.left + plot.right) / 2, (plot.top + plot.bottom) / 2 + 4
    return [
        f'<text class="nodata" x="{x:.1f}" y="{y:.1f}" text-anchor="middle" fill="currentColor" '
        'fill-opacity="0.6" font-size="13">no data</text>'
    ]


def _band(ln: _Line, frame: _Frame) -> str:
    """min..max of each run of buckets as one closed shape: along the maxima, back along the minima."""
    parts = []
    for run in ln.runs:
        if len(run.t) < 2:
            continue
        xs = frame.xs(run.t)
        parts.append(f"M{_points(xs, frame.ys(run.high))}L{_points(xs[::-1], frame.ys(run.low[::-1]))}Z")
    return "".join(parts)


def _avg(ln: _Line, frame: _Frame) -> str:
    """The averages, one subpath per run: the line breaks at a gap. A run of one bucket is a dot (a
    zero-length subpath, which round caps draw)."""
    parts = []
    for run in ln.runs:
        parts.append(f"M{_points(frame.xs(run.t), frame.ys(run.avg))}" + ("h0" if len(run.t) == 1 else ""))
    return "".join(parts)


def _legend(
    lines: Sequence[_Line], u: Unit, limits: Sequence[tuple[str, str]], width: int, top: float
) -> str:
    """Munin's legend: a colour, the name, then last, min, avg and max, right-aligned in columns; then
    the thresholds as written."""
    if not lines and not limits:
        return ""
    col = min(84.0, (width - 2 * _RIGHT) / 6)
    columns = [width - _RIGHT - (3 - i) * col for i in range(4)]  # right edges of last, min, avg, max
    name_room = columns[0] - col - (_RIGHT + 16)
    out = ['<g class="legend" fill="currentColor">']
    y = top + _ROW - 3
    if lines:
        out += [
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" font-weight="bold">{head}</text>'
            for x, head in zip(columns, ("Last", "Min", "Avg", "Max"), strict=True)
        ]
    for i, ln in enumerate(lines):
        y += _ROW
        colour = COLOURS[i % len(COLOURS)]
        shown = _fit(ln.name, name_room, _CHAR)
        tip = f"<title>{escape(ln.name)}</title>" if shown != ln.name else ""
        out.append(
            f'<rect x="{_RIGHT}" y="{y - 9:.1f}" width="10" height="10" fill="{colour}"/>'
            f'<text class="name" x="{_RIGHT + 16}" y="{y:.1f}">{tip}{escape(shown)}</text>'
        )
        values = (ln.last, ln.low, ln.avg, ln.high)
        out += [
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end">{escape(_shown(v, u))}</text>'
            for x, v in zip(columns, values, strict=True)
        ]
    if limits:
        y += _ROW
        x = float(_RIGHT)
        for colour, text in limits:
            shown = _fit(text, (width - 2 * _RIGHT) / len(limits) - 24, _CHAR)
            out.append(
                f'<path d="M{x:.1f} {y - 4:.1f}h10" stroke="{colour}" stroke-width="1.5" '
                f'stroke-dasharray="3 2"/><text class="limits" x="{x + 16:.1f}" y="{y:.1f}">'
                f"{escape(shown)}</text>"
            )
            x += 16 + len(shown) * _CHAR + 16
    out.append("</g>")
    return "".join(out)


def _shown(v: float | None, u: Unit) -> str:
    return "-" if v is None else format_value(v, u)


def _limits_text(warn: Threshold, crit: Threshold, u: Unit) -> list[tuple[str, str]]:
    """(colour, text) of each threshold given: `warning above 80%`."""
    return [
        (colour, f"{name} {describe_threshold(spec, u)}")
        for name, spec, colour in (("warning", warn, WARN_COLOUR), ("critical", crit, CRIT_COLOUR))
        if spec is not None and spec != ""
    ]


def _summary(title: str, lines: Sequence[_Line], u: Unit, limits: Sequence[tuple[str, str]]) -> str:
    """What the graph shows, for a screen reader: the title, each series' figures, the thresholds."""
    parts = [title]
    for ln in lines:
        if ln.runs:
            figures = zip(("last", "min", "avg", "max"), (ln.last, ln.low, ln.avg, ln.high), strict=True)
            parts.append(f"{ln.name}: " + ", ".join(f"{k} {_shown(v, u)}" for k, v in figures))
        else:
            parts.append(f"{ln.name}: no data")
    if not lines:
        parts.append("no data")
    parts += [text for _, text in limits]
    return "; ".join(parts)


def _fit(text: str, room: float, char: float) -> str:
    """`text` cut with an ellipsis to about `room` px."""
    most = max(4, int(room // char))
    return text if len(text) <= most else text[: most - 1] + "\u2026"


def sparkline(
    values: Sequence[float | None], width: int = 100, height: int = 20, *, label: str = "", uom: str = ""
) -> str:
    """A small inline trend of evenly spaced values, oldest first; None or a non-finite value breaks the
    line. `label` names it for a screen reader (with the last, min and max). ValueError for a size
    below 4x4 px."""
    if width < 4 or height < 4:
        raise ValueError(f"sparkline must be at least 4x4 px, not {width}x{height}")
    u = unit(uom)
    good = [v for v in values if v is not None and math.isfinite(v)]
    if good:
        last = next(v for v in reversed(values) if v is not None and math.isfinite(v))
        said = f"last {format_value(last * u.factor, u)}, min {format_value(min(good) * u.factor, u)}, "
        said += f"max {format_value(max(good) * u.factor, u)}"
    else:
        said = "no data"
    aria = f"{label}: {said}" if label else said
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(aria)}">'
        f"<title>{escape(aria)}</title>"
    )
    if not good:
        return head + "</svg>"
    lo, hi = min(good), max(good)
    span = hi / 2 - lo / 2
    n = len(values)
    dx = (width - 2) / (n - 1) if n > 1 else 0.0

    def point(i: int, v: float) -> str:
        x = 1 + i * dx if n > 1 else width / 2
        y = 1 + (hi / 2 - v / 2) / span * (height - 2) if span > 0 else height / 2
        return f"{x:.1f} {y:.1f}"

    parts: list[str] = []
    run: list[str] = []
    for i, v in enumerate(values):
        if v is None or not math.isfinite(v):
            if run:
                parts.append("M" + "L".join(run) + ("h0" if len(run) == 1 else ""))
                run = []
            continue
        run.append(point(i, v))
    if run:
        parts.append("M" + "L".join(run) + ("h0" if len(run) == 1 else ""))
    return (
        head + f'<path d="{"".join(parts)}" fill="none" stroke="currentColor" stroke-width="1.5" '
        'stroke-linejoin="round" stroke-linecap="round"/></svg>'
    )

