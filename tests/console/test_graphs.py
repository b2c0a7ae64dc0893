"""The console's resource graphs (console.graphs, console.axes) and their downsampling (console.rollup).

The SVG is read back with xml.etree, as a browser would have to: what is checked is what a reader
sees (coordinates inside the plot, a line that breaks at a gap, round tick labels, escaped text).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fuzzing import NASTY_TEXT, bounded
from watchd.console import graphs
from watchd.console.axes import format_value, time_ticks, unit, value_axis
from watchd.console.graphs import Series, render, sparkline, threshold_lines
from watchd.console.rollup import (
    WINDOWS,
    Bucket,
    Rollup,
    bucket_size,
    rates,
    rollup,
    sample_interval,
    window_seconds,
)
from watchd.nagios.range import Range

NS = "{http://www.w3.org/2000/svg}"
UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=UTC).timestamp()  # a Tuesday
HOSTILE = "</text><script>alert(1)</script>&amp;\"'<!--"


def t(*args: int, zone: ZoneInfo = UTC) -> float:
    return dt.datetime(*args, tzinfo=zone).timestamp()  # type: ignore[misc]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


def by_class(root: ET.Element, name: str, tag: str = "*") -> list[ET.Element]:
    return [e for e in root.iter(f"{NS}{tag}" if tag != "*" else tag) if e.get("class") == name]


def frame_of(root: ET.Element) -> tuple[float, float, float, float]:
    (rect,) = by_class(root, "frame", "rect")
    x, y = float(rect.get("x", "")), float(rect.get("y", ""))
    return x, y, x + float(rect.get("width", "")), y + float(rect.get("height", ""))


def subpaths(d: str) -> list[list[tuple[float, float]]]:
    """The points of each subpath of a path of M, L, h and Z commands (what graphs emits)."""
    out: list[list[tuple[float, float]]] = []
    for part in re.findall(r"M[^M]*", d):
        nums = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", part.replace("h0", ""))]
        out.append(list(zip(nums[::2], nums[1::2], strict=True)))
    return out


def texts(root: ET.Element, cls: str) -> list[str]:
    (group,) = by_class(root, cls, "g")
    return [e.text or "" for e in group]


def y_at(root: ET.Element, value: float) -> float:
    """Where `value` lies on the page, read off the value axis' first and last labels (plain numbers)."""
    labels = by_class(root, "y-ticks", "g")[0]
    ticks = [(float((e.text or "").split()[0]), float(e.get("y", "")) - 4) for e in labels]
    (v0, y0), (v1, y1) = ticks[0], ticks[-1]
    return y0 + (value - v0) / (v1 - v0) * (y1 - y0)


def series_of(name: str, points: list[tuple[float, float | None]], start: float, end: float) -> Series:
    return Series(name, rollup(points, start, end))


def day_of_minutes(start: float) -> list[tuple[float, float | None]]:
    return [(start + 60 * i, 1 + math.sin(i / 60)) for i in range(1440)]


# --- rollup ---


def test_bucket_sizes_keep_every_window_near_300_points() -> None:
    sizes = {name: bucket_size(secs) for name, secs in WINDOWS.items()}
    assert sizes == {"1h": 60, "1d": 300, "1w": 1800, "1month": 7200}
    assert all(WINDOWS[n] / sizes[n] <= 400 for n in WINDOWS)
    assert window_seconds("1w") == 7 * 86400
    with pytest.raises(ValueError, match=r"unknown graph window '2d': expected one of 1h, 1d, 1w, 1month"):
        window_seconds("2d")


def test_buckets_hold_min_avg_max_and_count_of_their_samples() -> None:
    points: list[tuple[float, float | None]] = [(1000.0, 4.0), (1070.0, 10.0), (1010.0, 1.0), (1019.0, 7.0)]
    r = rollup(points, 960.0, 1200.0, step=60)  # unsorted on purpose
    assert r.step == 60
    assert r.buckets == (Bucket(960.0, 1.0, 4.0, 7.0, 3), Bucket(1020.0, 10.0, 10.0, 10.0, 1))
    assert len(r.segments) == 1  # neighbours: one line
    (huge,) = rollup([(0.0, 1e308), (1.0, 1e308)], 0.0, 60.0).buckets  # the sum overflows, the mean not
    assert (huge.min, huge.avg, huge.max) == (1e308, 1e308, 1e308)


def test_buckets_are_aligned_to_their_size_not_to_the_window() -> None:
    r = rollup([(1_000_010.0, 1.0), (1_000_100.0, 2.0)], 1_000_000.0, 1_000_300.0, step=60)
    assert [b.start for b in r.buckets] == [999_960.0, 1_000_080.0]
    assert all(b.start % 60 == 0 for b in r.buckets)


def test_samples_outside_the_window_and_non_finite_values_are_left_out() -> None:
    points = [(0.0, 1.0), (100.0, math.nan), (110.0, math.inf), (120.0, 5.0), (400.0, 9.0)]
    r = rollup(points, 60.0, 400.0, step=60)
    assert r.buckets == (Bucket(120.0, 5.0, 5.0, 5.0, 1),)


def test_an_empty_bucket_is_a_gap_not_an_interpolation() -> None:
    start = 0.0
    points = [(60.0 * i, float(i)) for i in range(10) if i not in (4, 5, 6)]
    r = rollup(points, start, 600.0, step=60, heartbeat=90)
    assert [[b.start for b in seg] for seg in r.segments] == [[0, 60, 120, 180], [420, 480, 540]]
    assert all(b.count == 1 for b in r.buckets)


def test_samples_within_the_heartbeat_stay_one_line_across_empty_buckets() -> None:
    """A check every 5 minutes in the 1 h window (1 min buckets) draws a line, not dots; an outage
    longer than twice the usual spacing breaks it."""
    points = [(300.0 * i, 1.0) for i in range(12) if i not in (6, 7)]  # 15 min between 25 and 40 min
    r = rollup(points, 0.0, 3600.0)
    assert r.step == 60
    assert sample_interval([p[0] for p in points]) == 300
    assert [len(s) for s in r.segments] == [6, 4]
    one_missing = [(300.0 * i, 1.0) for i in range(12) if i != 6]  # 10 min: within the heartbeat
    assert len(rollup(one_missing, 0.0, 3600.0).segments) == 1
    # Late samples (jitter) skip a bucket now and then, and still make one line.
    jittery = [(60.0 * i + (-0.1 if i % 2 else 0.1), 1.0) for i in range(1, 59)]
    assert len(rollup(jittery, 0.0, 3600.0).segments) == 1


def test_an_unknown_value_breaks_the_line() -> None:
    points: list[tuple[float, float | None]] = [(0.0, 1.0), (60.0, 2.0), (120.0, None), (180.0, 3.0)]
    r = rollup(points, 0.0, 240.0, step=60)
    assert [[b.avg for b in seg] for seg in r.segments] == [[1.0, 2.0], [3.0]]


def test_rollup_refuses_a_window_it_cannot_cut() -> None:
    with pytest.raises(ValueError, match="finite start and end"):
        rollup([], math.nan, 10.0)
    with pytest.raises(ValueError, match="bucket size must be a positive number"):
        rollup([], 0.0, 10.0, step=0)
    with pytest.raises(ValueError, match=r"bucket size 0\.001 s cuts the window into more than 10,000,000"):
        rollup([], 0.0, 86400.0, step=0.001)
    assert rollup([(5.0, 1.0)], 10.0, 10.0).segments == ()  # an empty window holds nothing
    assert bucket_size(1e12) == 1e12 / 400


def test_counter_rates_per_second_and_a_reset_is_unknown() -> None:
    points: list[tuple[float, float | None]] = [(0.0, 100.0), (10.0, 150.0), (20.0, 150.0), (30.0, 5.0)]
    points += [(40.0, 25.0), (50.0, None), (60.0, 30.0), (70.0, 40.0)]
    assert rates(points) == [(10.0, 5.0), (20.0, 0.0), (30.0, None), (40.0, 2.0), (50.0, None), (70.0, 1.0)]


# --- axes ---


@pytest.mark.parametrize(
    ("low", "high", "uom"),
    [
        (0, 1, ""), (0, 7.3, ""), (0.13, 0.92, ""), (-3.1, 47, ""), (0, 1234567, ""), (0, 0.0042, "s"),
        (0, 97, "%"), (0, 3.7 * 2**30, "B"), (0, 900, "MB"), (1e16, 1e16 + 4, ""), (5, 5, ""), (0, 0, ""),
        (-1.7e308, 1.7e308, ""), (0, 1e-9, ""),
    ],
)
def test_value_ticks_are_round_1_2_5_steps_covering_the_range(low: float, high: float, uom: str) -> None:
    u = unit(uom)
    lo, hi = low * u.factor, high * u.factor
    axis = value_axis(lo, hi, u)
    assert axis.low <= lo
    assert axis.high >= hi
    assert 2 <= len(axis.ticks) <= 12
    values = [v for v, _ in axis.ticks]
    assert values == sorted(values)
    assert len(set(values)) == len(values)
    if all(re.fullmatch(r"-?[\d.]+%?", lab.split()[0]) for _, lab in axis.ticks):  # not as 2e-10
        shown = [float(lab.split()[0].rstrip("%")) for _, lab in axis.ticks]
        steps = {round(b - a, 9) for a, b in itertools.pairwise(shown)}
        assert len(steps) == 1
        (step,) = steps
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 6) in (1, 2, 5)
        assert all(abs(v / step - round(v / step)) < 1e-6 for v in shown)


def test_units_follow_the_nagios_uom_with_prefixes() -> None:
    gigabytes = value_axis(0, 3.7 * 2**30, unit("B")).ticks
    assert [lab for _, lab in gigabytes] == ["0 GB", "1 GB", "2 GB", "3 GB", "4 GB"]
    assert format_value(1024 * unit("KB").factor, unit("KB")) == "1.00 MB"  # 1024 KB, as check_disk means it
    assert [lab for _, lab in value_axis(0, 0.0042, unit("s")).ticks][:3] == ["0 ms", "1 ms", "2 ms"]
    assert format_value(0.023, unit("s")) == "23.0 ms"
    assert format_value(250 * unit("ms").factor, unit("ms")) == "250 ms"
    assert format_value(42.5, unit("%")) == "42.5%"
    assert format_value(1_500_000, unit("")) == "1.50 M"
    assert format_value(0.5, unit("")) == "0.50"  # no milli-load
    assert format_value(12.5, unit("c")) == "12.5 /s"  # a counter is graphed as its rate
    assert format_value(-70.0, unit("dBm")) == "-70.0 dBm"  # as written


def test_time_ticks_per_window_in_the_zone() -> None:
    end = t(2026, 11, 24, 12, 0)

    def labels(window: str, zone: ZoneInfo) -> list[str]:
        return [lab for _, lab in time_ticks(end - WINDOWS[window], end, zone, 9)]

    assert labels("1h", UTC) == ["11:00", "11:10", "11:20", "11:30", "11:40", "11:50", "12:00"]
    every_3h = ["12:00", "15:00", "18:00", "21:00", "00:00", "03:00", "06:00", "09:00", "12:00"]
    assert labels("1d", UTC) == every_3h
    assert labels("1d", BERLIN) == ["15:00", "18:00", "21:00", "00:00", "03:00", "06:00", "09:00", "12:00"]
    assert labels("1w", UTC) == ["Wed 18", "Thu 19", "Fri 20", "Sat 21", "Sun 22", "Mon 23", "Tue 24"]
    assert labels("1month", UTC) == ["26 Oct", "2 Nov", "9 Nov", "16 Nov", "23 Nov"]  # Mondays
    # Each tick is at the local wall time it says.
    for ts, lab in time_ticks(end - 86400, end, BERLIN, 9):
        assert dt.datetime.fromtimestamp(ts, BERLIN).strftime("%H:%M") == lab
    for ts, lab in time_ticks(end - 7 * 86400, end, BERLIN, 9):
        local = dt.datetime.fromtimestamp(ts, BERLIN)
        assert (local.hour, local.minute) == (0, 0)
        assert lab.endswith(f" {local.day}")


def test_time_ticks_skip_the_hour_a_dst_change_leaves_out() -> None:
    start, end = t(2026, 3, 29, 0, 0, zone=BERLIN), t(2026, 3, 29, 6, 0, zone=BERLIN)
    ticks = time_ticks(start, end, BERLIN, 9)  # 02:00 never happens that night
    assert [lab for _, lab in ticks] == ["00:00", "01:00", "03:00", "04:00", "05:00", "06:00"]
    assert [b - a for (a, _), (b, _) in itertools.pairwise(ticks)] == [3600.0] * 5


def test_time_ticks_out_of_range_give_none() -> None:
    assert time_ticks(-1e12, 0.0, UTC, 8) == []
    assert time_ticks(1e300, 1e301, UTC, 8) == []


# --- thresholds ---


@pytest.mark.parametrize(
    ("spec", "lines"),
    [
        ("10", (10.0,)), ("10:", (10.0,)), ("~:10", (10.0,)), ("10:20", (10.0, 20.0)), ("@5:10", (5.0, 10.0)),
        ("0:90", (90.0,)), ("-10", (-10.0,)), ("1e3", (1000.0,)), ("nonsense", ()), ("", ()), (None, ()),
        (Range.parse("@~:3"), (3.0,)), (7.5, (7.5,)), (math.inf, ()), ("20:10", ()),
    ],
)
def test_threshold_lines_sit_at_the_finite_ends_of_the_range(spec: Range | str | None, lines: tuple) -> None:
    assert threshold_lines(spec) == lines


@pytest.mark.parametrize(
    ("spec", "uom", "words"),
    [
        ("10", "", "above 10.0"), ("~:10", "", "above 10.0"), ("10:", "", "below 10.0"),
        ("10:20", "", "outside 10.0 to 20.0"), ("@10:20", "", "10.0 to 20.0"),
        ("@~:5", "ms", "at most 5.00 ms"), ("@5:", "", "at least 5.00"), ("~:", "", "never"),
        ("@~:", "", "always"), ("-10", "", "above -10.0"), ("12884901888", "B", "above 12.0 GB"),
        ("@0:1024", "KB", "0 B to 1.00 MB"), ("80", "%", "above 80.0%"),
        ("bogus", "%", "bogus%"),
    ],
)  # fmt: skip
def test_thresholds_are_described_in_words_and_units(spec: str, uom: str, words: str) -> None:
    assert graphs.describe_threshold(spec, unit(uom)) == words


# --- render ---


def load_graph(**kw: object) -> tuple[str, ET.Element]:
    start = NOW - 86400
    points = day_of_minutes(start)
    args: dict = {"title": "Load", "now": NOW, "tz": "UTC", **kw}
    svg = render([series_of("load1", points, start, NOW)], start, NOW, **args)
    return svg, parse(svg)


def test_render_is_valid_accessible_svg_without_external_resources() -> None:
    svg, root = load_graph(warn="1.5", crit="1.8")
    assert root.get("role") == "img"
    label = root.get("aria-label") or ""
    assert label.startswith("Load; load1: last ")
    assert "warning above 1.50" in label
    assert "critical above 1.80" in label
    assert root[0].tag == f"{NS}title"
    assert root[0].text == "Load"
    assert not re.search(r"href|url\(|<script|<style|<image|<foreignObject| id=", svg)
    assert render([], 0.0, 3600.0, title="x", now=3600.0) == render([], 0.0, 3600.0, title="x", now=3600.0)
    assert svg == load_graph(warn="1.5", crit="1.8")[0]  # deterministic


def test_points_map_inside_the_plot_area() -> None:
    _, root = load_graph()
    left, top, right, bottom = frame_of(root)
    for cls in ("avg", "band"):
        (path,) = by_class(root, cls, "path")
        points = [p for sub in subpaths(path.get("d", "")) for p in sub]
        assert len(points) >= 288
        assert all(left <= x <= right and top <= y <= bottom for x, y in points), cls
    # Time runs left to right; the highest average is highest on the page.
    (avg,) = subpaths(by_class(root, "avg", "path")[0].get("d", ""))
    xs = [x for x, _ in avg]
    assert xs == sorted(xs)
    assert xs[0] - left < 3
    assert right - xs[-1] < 3


def test_a_value_is_drawn_at_its_tick() -> None:
    """The average line of a constant 3 lies on the y of the tick labelled 3."""
    start = NOW - 3600
    svg = render([series_of("c", [(start + 60 * i, 3.0) for i in range(60)], start, NOW)], start, NOW,
                 title="c", now=NOW)  # fmt: skip
    root = parse(svg)
    assert texts(root, "y-ticks") == ["0", "1", "2", "3"]
    tick_y = {e.text: float(e.get("y", "")) - 4 for e in by_class(root, "y-ticks", "g")[0]}
    (avg,) = subpaths(by_class(root, "avg", "path")[0].get("d", ""))
    assert len(avg) == 60
    assert all(y == pytest.approx(tick_y["3"], abs=0.06) for _, y in avg)


def test_a_gap_breaks_the_line_and_the_band() -> None:
    start = NOW - 86400
    points = [p for p in day_of_minutes(start) if not start + 6 * 3600 <= p[0] < start + 9 * 3600]
    svg = render([series_of("load1", points, start, NOW)], start, NOW, title="Load", now=NOW)
    root = parse(svg)
    left, _, right, _ = frame_of(root)
    gap = (left + (right - left) * 6 / 24, left + (right - left) * 9 / 24)
    for cls in ("avg", "band"):
        subs = subpaths(by_class(root, cls, "path")[0].get("d", ""))
        assert len(subs) == 2, cls
        assert not [x for sub in subs for x, _ in sub if gap[0] + 1 < x < gap[1] - 1]


def test_a_lone_bucket_is_a_dot() -> None:
    start = NOW - 3600
    svg = render([series_of("x", [(start + 600, 1.0)], start, NOW)], start, NOW, title="x", now=NOW)
    (avg,) = by_class(parse(svg), "avg", "path")
    assert re.fullmatch(r"M[\d.]+ [\d.]+h0", avg.get("d", ""))
    assert avg.get("stroke-linecap") == "round"
    assert not by_class(parse(svg), "band", "path")


def test_value_axis_ticks_are_round_and_start_at_zero_for_amounts() -> None:
    _, root = load_graph()
    labels = texts(root, "y-ticks")
    assert labels == ["0.0", "0.5", "1.0", "1.5", "2.0"]


def test_time_labels_follow_the_zone() -> None:
    """The same day in UTC and in Berlin: the label 15:00 sits an hour further left in Berlin, at
    14:00 UTC."""
    for tz, hours in (("UTC", 3), ("Europe/Berlin", 2)):
        _, root = load_graph(tz=tz)
        left, _, right, _ = frame_of(root)
        at = {e.text: float(e.get("x", "")) for e in by_class(root, "x-ticks", "g")[0]}
        assert list(at)[:3] == ["15:00", "18:00", "21:00"]
        assert at["15:00"] == pytest.approx(left + (right - left) * hours / 24, abs=0.1)
        assert "12:00" not in at or tz != "UTC"  # the edges carry no label
    updated = by_class(root, "updated", "text")[0].text
    assert updated == "Last update 2026-11-24 13:00 CET"


def test_thresholds_are_dashed_lines_at_their_values() -> None:
    _, root = load_graph(warn="1.5", crit="@2.1:3", unit_of_measure="")
    (warn,) = by_class(root, "warn", "line")
    assert warn.get("stroke-dasharray")
    assert float(warn.get("y1", "")) == pytest.approx(y_at(root, 1.5), abs=0.1)
    crit = by_class(root, "crit", "line")
    assert [float(c.get("y1", "")) for c in crit] == [pytest.approx(y_at(root, v), abs=0.1) for v in (2.1, 3)]
    assert texts(root, "y-ticks")[-1] == "3"  # the axis grew to show both


def test_a_threshold_far_from_the_data_does_not_flatten_it() -> None:
    _, root = load_graph(warn="95")
    assert texts(root, "y-ticks")[-1] == "2.0"
    assert not by_class(root, "warn", "line")
    legend = by_class(root, "legend", "g")[0]
    assert "warning above 95.0" in [e.text for e in legend.iter(f"{NS}text")]


def test_the_legend_gives_last_min_avg_max_per_series() -> None:
    start = NOW - 3600
    points = [(start + 60 * i, float(i)) for i in range(60)]  # 0..59: avg 29.5
    gb = [(start + 60 * i, 2.0) for i in range(60)]
    svg = render(
        [
            series_of("rising", points, start, NOW),
            series_of("flat", gb, start, NOW),
            Series("none", rollup([], 0, 1)),
        ],
        start, NOW, title="x", now=NOW, unit_of_measure="GB",
    )  # fmt: skip
    legend = [e.text for e in by_class(parse(svg), "legend", "g")[0].iter(f"{NS}text")]
    assert legend[:4] == ["Last", "Min", "Avg", "Max"]
    assert legend[4:9] == ["rising", "59.0 GB", "0 B", "29.5 GB", "59.0 GB"]
    assert legend[9:14] == ["flat", "2.00 GB", "2.00 GB", "2.00 GB", "2.00 GB"]
    assert legend[14:19] == ["none", "-", "-", "-", "-"]


def test_hostile_names_are_text_not_markup() -> None:
    start = NOW - 3600
    name = HOSTILE + "\x00\x1b\ud800"
    svg = render([series_of(name, [(start, 1.0)], start, NOW)], start, NOW, title=name, now=NOW,
                 warn=HOSTILE, unit_of_measure=HOSTILE)  # fmt: skip
    svg.encode("utf-8")  # no lone surrogate left
    root = parse(svg)
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    shown = HOSTILE + "\ufffd\ufffd\ufffd"
    assert root[0].text == shown
    names = by_class(root, "name", "text")
    assert names[0].text == shown or names[0][0].text == shown  # shown, or cut with the full name as tooltip
    assert (root.get("aria-label") or "").startswith(shown)


def test_a_long_name_is_cut_with_the_full_name_as_tooltip() -> None:
    start = NOW - 3600
    name = "x" * 200
    svg = render([series_of(name, [(start, 1.0)], start, NOW)], start, NOW, title="t", now=NOW)
    (text,) = by_class(parse(svg), "name", "text")
    assert text[0].tag == f"{NS}title"
    assert text[0].text == name
    assert (text[0].tail or "").endswith("\u2026")
    assert len(text[0].tail or "") < 100


def test_no_data_says_so() -> None:
    for series in ([], [Series("load1", rollup([], NOW - 3600, NOW))]):
        svg = render(series, NOW - 3600, NOW, title="Load", now=NOW)
        root = parse(svg)
        assert [e.text for e in by_class(root, "nodata", "text")] == ["no data"]
        assert not by_class(root, "avg", "path")
        assert not by_class(root, "y-ticks", "g")
        assert texts(root, "x-ticks")  # the time axis is still there
        assert "no data" in (root.get("aria-label") or "")


def test_render_refuses_bad_windows_and_sizes_clearly() -> None:
    with pytest.raises(ValueError, match="finite and at least a second"):
        render([], 10.0, 10.0, title="x", now=0)
    with pytest.raises(ValueError, match="finite and at least a second"):
        render([], math.nan, 10.0, title="x", now=0)
    with pytest.raises(ValueError, match="at least 160x80 px, not 10x240"):
        render([], 0.0, 10.0, title="x", now=0, width=10)
    for tz in ("Mars/Olympus", "../../etc/passwd", ""):
        with pytest.raises(ValueError, match=r"unknown time zone .* for a graph"):
            render([], 0.0, 10.0, title="x", now=0, tz=tz)


def test_sparkline() -> None:
    svg = sparkline([1.0, 2.0, None, 3.0, 5.0, 4.0], 100, 20, label="load")
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-label") == "load: last 4.00, min 1.00, max 5.00"
    (path,) = root.iter(f"{NS}path")
    subs = subpaths(path.get("d", ""))
    assert [len(s) for s in subs] == [2, 3]
    ys = [y for s in subs for _, y in s]
    assert min(ys) == 1.0
    assert max(ys) == 19.0
    assert all(0 <= x <= 100 for s in subs for x, _ in s)
    assert parse(sparkline([], 50, 10)).get("aria-label") == "no data"
    assert "h0" in sparkline([7.0], 50, 10)
    with pytest.raises(ValueError, match="at least 4x4"):
        sparkline([1.0], 2, 10)


def test_render_is_fast_enough_to_draw_per_request() -> None:
    """A sanity bound (bench/console_graphs.py measures): 4 series of 300 buckets in far less than 50 ms
    on a loaded CI machine; the goal is under 5 ms."""
    import time

    start = NOW - 86400
    waves = [[(start + 288 * i, math.sin(i / 9 + k)) for i in range(300)] for k in range(4)]
    series = [Series(f"s{k}", rollup(w, start, NOW, step=288)) for k, w in enumerate(waves)]
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        render(series, start, NOW, title="x", now=NOW)
        best = min(best, time.perf_counter() - t0)
    assert best < 0.05


# --- properties ---

FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324])
NAMES = st.text(max_size=40) | NASTY_TEXT | st.just(HOSTILE)


@st.composite
def rollups(draw: st.DrawFn) -> Rollup:
    step = draw(st.sampled_from([1.0, 60.0, 300.0, 7200.0]) | st.floats(0.001, 1e6))
    segments = draw(
        st.lists(
            st.lists(st.builds(Bucket, FLOATS, FLOATS, FLOATS, FLOATS, st.integers(-1, 10**6)), max_size=30),
            max_size=4,
        )
    )
    return Rollup(0.0, 1.0, step, tuple(tuple(s) for s in segments))


@given(
    series=st.lists(st.builds(Series, NAMES, rollups()), max_size=5),
    start=st.floats(-1e12, 1e12) | st.sampled_from([0.0, NOW - 86400, -1e300]),
    length=st.floats(1, 1e12) | st.sampled_from([3600.0, 86400.0, 2678400.0]),
    uom=st.sampled_from(["", "B", "KB", "TB", "s", "ms", "%", "c", "°C"]) | NAMES,
    warn=st.none() | NAMES | FLOATS,
    crit=st.none() | st.sampled_from(["10:20", "@5:10", "~:0", "-10", "1e308"]),
    tz=st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe"]),
    size=st.tuples(st.integers(160, 2000), st.integers(80, 800)),
)
@bounded(300)
def test_fuzz_render_never_raises_and_is_valid_xml(
    series: list[Series], start: float, length: float, uom: str, warn: object, crit: str | None, tz: str,
    size: tuple[int, int],
) -> None:  # fmt: skip
    assume(start + length - start >= 1)
    svg = render(
        series, start, start + length, title="t", now=NOW, unit_of_measure=uom, warn=warn,  # type: ignore[arg-type]
        crit=crit, tz=tz, width=size[0], height=size[1],
    )  # fmt: skip
    root = parse(svg)
    svg.encode("utf-8")
    left, top, right, bottom = frame_of(root)
    for cls in ("avg", "band"):
        for path in by_class(root, cls, "path"):
            for x, y in (p for sub in subpaths(path.get("d", "")) for p in sub):
                assert left <= x <= right
                assert top <= y <= bottom


@given(
    points=st.lists(st.tuples(st.floats(-1e6, 1e7), st.none() | FLOATS), max_size=200),
    start=st.floats(-1e6, 1e6),
    length=st.floats(1, 1e7),
)
@bounded(300)
def test_fuzz_rollup_buckets_are_the_samples_summarised(
    points: list[tuple[float, float | None]], start: float, length: float
) -> None:
    end = start + length
    r = rollup(points, start, end)
    good = [v for ts, v in points if start <= ts < end and v is not None and math.isfinite(v)]
    assert sum(b.count for b in r.buckets) == len(good)
    starts = [b.start for b in r.buckets]
    assert starts == sorted(set(starts))
    for b in r.buckets:
        assert b.start % r.step == 0
        assert start - r.step < b.start < end
        assert b.min <= b.max
        assert b.count >= 1
        assert b.min <= b.avg <= b.max
    if good:
        assert min(b.min for b in r.buckets) == min(good)
        assert max(b.max for b in r.buckets) == max(good)


@given(values=st.lists(st.none() | FLOATS, max_size=100), label=NAMES, size=st.integers(4, 500))
@bounded(200)
def test_fuzz_sparkline_is_valid_xml(values: list[float | None], label: str, size: int) -> None:
    root = parse(sparkline(values, size, size // 4 + 4, label=label))
    for path in root.iter(f"{NS}path"):
        for x, y in (p for sub in subpaths(path.get("d", "")) for p in sub):
            assert 0 <= x <= size
            assert 0 <= y <= size // 4 + 4


def test_colours_cycle_beyond_the_palette() -> None:
    start = NOW - 3600
    many = [series_of(f"s{i}", [(start, float(i))], start, NOW) for i in range(len(graphs.COLOURS) + 2)]
    root = parse(render(many, start, NOW, title="many", now=NOW))
    strokes = [p.get("stroke") for p in by_class(root, "avg", "path")]
    assert strokes[len(graphs.COLOURS)] == strokes[0] == graphs.COLOURS[0]


def test_a_subnormal_span_is_drawn_flat_not_as_nan() -> None:
    """Found by the fuzz test: values 0 and 5e-324 made the axis divide by a subnormal span."""
    tiny = Rollup(0.0, 1.0, 1.0, ((Bucket(0.0, 0.0, 0.0, 5e-324, 1),),))
    svg = render([Series("x", tiny)], 0.0, 1.0, title="t", now=NOW, unit_of_measure="KB", width=160)
    assert "nan" not in svg
    assert value_axis(0.0, 5e-324, unit("")).ticks


def test_time_ticks_near_year_9999_stop_instead_of_raising() -> None:
    end = dt.datetime(9999, 12, 31, tzinfo=dt.UTC).timestamp()
    ticks = time_ticks(end - 400 * 86400, end, ZoneInfo("UTC"), 9)
    assert all(ts <= end for ts, _ in ticks)
