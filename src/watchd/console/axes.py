"""The axes of a graph: units with prefixes, round value ticks, time ticks in a zone. Pure.

Units follow the Nagios plugin guidelines' UOM: a plain number, `s` (and `ms`, `us`), `%`, bytes (`B`,
`KB`, `MB`, `GB`, `TB`, `PB`; 1024 apiece, as check_disk writes them) and `c`, a counter, which is
graphed as its rate per second (see rollup.rates). Other units (Icinga 2 keeps `dBm`, `°C`, `req/s`)
are shown as written. Values are converted to the base unit (bytes, seconds) before anything is
computed, so ticks are round in the unit they are shown in.

Time labels use fixed English names, not the C library's locale, so a rendering is the same anywhere.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from watchd.core.timespec import LAST_RENDERABLE

Kind = Literal["bytes", "seconds", "percent", "si"]

_BYTES = {"B": 0, "KB": 1, "kB": 1, "KiB": 1, "MB": 2, "MiB": 2, "GB": 3, "GiB": 3, "TB": 4, "TiB": 4}
_BYTES |= {"PB": 5, "PiB": 5}
_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_BYTE_PREFIXES = ("", "K", "M", "G", "T", "P", "E")
_SI_PREFIXES = ("", "k", "M", "G", "T", "P", "E", "Z", "Y")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class Unit:
    uom: str  # as the plugin wrote it
    factor: float  # a value in `uom` times this is a value in `base`
    base: str  # the symbol shown after the prefix
    kind: Kind


def unit(uom: str) -> Unit:
    if uom in _BYTES:
        return Unit(uom, 1024.0 ** _BYTES[uom], "B", "bytes")
    if uom in _SECONDS:
        return Unit(uom, _SECONDS[uom], "s", "seconds")
    if uom == "%":
        return Unit(uom, 1.0, "%", "percent")
    if uom == "c":
        return Unit(uom, 1.0, "/s", "si")
    return Unit(uom, 1.0, uom, "si")


def prefix(u: Unit, magnitude: float) -> tuple[float, str]:
    """The divisor and prefixed symbol for values around `magnitude` (in the base unit): 1024 apiece for
    bytes, 1000 for the rest; seconds get m, µ, n below one (a unitless 0.5 stays 0.5: Munin's `500 m`
    load confuses everyone)."""
    m = abs(magnitude)
    if u.kind == "bytes":
        k = _power(m, 1024.0, len(_BYTE_PREFIXES) - 1)
        return 1024.0**k, _BYTE_PREFIXES[k] + u.base
    if u.kind == "seconds":
        if 0 < m < 1e-6:
            return 1e-9, "ns"
        if 0 < m < 1e-3:
            return 1e-6, "µs"
        if 0 < m < 1:
            return 1e-3, "ms"
        return 1.0, "s"
    if u.kind == "percent":
        return 1.0, "%"
    k = _power(m, 1000.0, len(_SI_PREFIXES) - 1)
    return 1000.0**k, _SI_PREFIXES[k] + u.base


def _power(m: float, base: float, most: int) -> int:
    """How many times `base` goes into m, up to `most` (by division: a logarithm puts 1024**2 just
    below 2)."""
    k = 0
    while m >= base and k < most:
        m /= base
        k += 1
    return k


def _join(number: str, symbol: str) -> str:
    if not symbol:
        return number
    return f"{number}{symbol}" if symbol == "%" else f"{number} {symbol}"


def format_value(value: float, u: Unit) -> str:
    """One value with three significant digits or so and its own prefix, as in Munin's legend."""
    divisor, symbol = prefix(u, value)
    x = value / divisor
    a = abs(x)
    if a == 0:
        text = "0"
    elif a >= 1e6 or a < 0.01:
        text = f"{x:.3g}"
    elif a >= 100:
        text = f"{x:.0f}"
    elif a >= 10:
        text = f"{x:.1f}"
    else:
        text = f"{x:.2f}"
    return _join(text, symbol)


@dataclass(frozen=True, slots=True)
class ValueAxis:
    low: float  # base unit
    high: float
    ticks: tuple[tuple[float, str], ...]  # (value in the base unit, label), low to high


def value_axis(low: float, high: float, u: Unit, ticks: int = 5) -> ValueAxis:
    """An axis covering [low, high] (finite, base unit) whose ends and ticks are round 1-2-5 steps in
    the unit shown: about `ticks` of them."""
    if low > high:
        low, high = high, low
    # One value, or a span floats cannot draw: relatively tiny, or so small (subnormal) that
    # dividing by it overflows.
    if high - low <= max(abs(low), abs(high)) * 1e-9 or high - low < 1e-200:
        mid = low / 2 + high / 2
        mid = mid if abs(mid) >= 1e-200 else 0.0
        pad = abs(mid) / 10 or 1.0
        low, high = (0.0 if mid == 0 else mid - pad), mid + pad
    divisor, symbol = prefix(u, max(abs(low), abs(high)))
    lo, hi = low / divisor, high / divisor
    step = _nice((hi / 2 - lo / 2) / (ticks / 2))  # halves: a span of ±1e308 overflows, its half not
    k0, k1 = math.floor(lo / step), math.ceil(hi / step)
    k1 = min(max(k1, k0 + 1), k0 + 4 * ticks)  # two ticks at least, and bounded whatever the floats do
    decimals = max(0, -math.floor(math.log10(step)))
    # round() removes 0.30000000000000004; adding 0.0 turns -0.0 into 0.0.
    values = [(round(k * step, decimals) if decimals <= 15 else k * step) + 0.0 for k in range(k0, k1 + 1)]
    if not all(math.isfinite(v * divisor) for v in (values[0], values[-1])):  # past the largest float
        return ValueAxis(low, high, ((low, format_value(low, u)), (high, format_value(high, u))))
    wide = decimals > 6 or max(abs(values[0]), abs(values[-1])) >= 1e6
    return ValueAxis(
        values[0] * divisor,
        values[-1] * divisor,
        tuple((v * divisor, _join(f"{v:.4g}" if wide else f"{v:.{decimals}f}", symbol)) for v in values),
    )


def _nice(raw: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at least `raw` (> 0)."""
    if not raw > 0 or not math.isfinite(raw):
        return 1.0
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * mag >= raw * (1 - 1e-12):
            return m * mag
    return 10 * mag


# Time steps, finest first: (kind, count, about this many seconds).
_TIME_STEPS: tuple[tuple[str, int, float], ...] = (
    *(("minute", n, 60.0 * n) for n in (1, 2, 5, 10, 15, 30)),
    *(("hour", n, 3600.0 * n) for n in (1, 2, 3, 6, 12)),
    ("day", 1, 86400.0),
    ("day", 2, 2 * 86400.0),
    ("week", 1, 7 * 86400.0),
    *(("month", n, 2629746.0 * n) for n in (1, 3, 6)),
    *(("year", n, 31556952.0 * n) for n in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)),
)
_LAST_TICKABLE = LAST_RENDERABLE - 2 * 366 * 86400  # so stepping past the end stays within year 9999


def time_ticks(start: float, end: float, zone: ZoneInfo, most: int) -> list[tuple[float, str]]:
    """Ticks at round local times within [start, end]: every 10 min as HH:MM in 1 h, every 3 h in 1 d,
    each midnight as `Mon 24` in 1 w, each Monday as `24 Nov` in a month (with `most` 9, as a 720 px
graph has); at most `most` of them, or one more where a month is short. An
    instant is skipped where the wall clock has no such time (the hour a DST change leaves out)."""
    if not (0 <= start < end <= _LAST_TICKABLE) or most < 1:
        return []
    span = end - start
    choice = next(((k, n) for k, n, secs in _TIME_STEPS if span / secs < most), None)  # < : both ends
    if choice is None:
        return []
    kind, n = choice
    wall = dt.datetime.fromtimestamp(start, zone).replace(tzinfo=None)
    t = _first(wall, kind, n)
    out: list[tuple[float, str]] = []
    for _ in range(most + 5):  # the first may lie before start, months vary
        ts = t.replace(tzinfo=zone).timestamp()
        if ts > end:
            break
        back = dt.datetime.fromtimestamp(ts, zone).replace(tzinfo=None)
        if ts >= start and back == t and not (out and out[-1][0] >= ts):
            out.append((ts, _label(t, kind)))
        try:
            t = _next(t, kind, n)
        except (ValueError, OverflowError):  # past year 9999: the last tick is drawn
            break
    return out


def _first(wall: dt.datetime, kind: str, n: int) -> dt.datetime:
    """The round wall time of this kind at or before `wall`."""
    day = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "minute":
        minutes = wall.hour * 60 + wall.minute
        return day + dt.timedelta(minutes=minutes - minutes % n)
    if kind == "hour":
        return day + dt.timedelta(hours=wall.hour - wall.hour % n)
    if kind == "day":
        return day - dt.timedelta(days=day.toordinal() % n)
    if kind == "week":
        return day - dt.timedelta(days=day.weekday())
    if kind == "month":
        return day.replace(day=1, month=wall.month - (wall.month - 1) % n)
    return day.replace(day=1, month=1, year=max(1, wall.year - wall.year % n))


def _next(t: dt.datetime, kind: str, n: int) -> dt.datetime:
    if kind == "minute":
        return t + dt.timedelta(minutes=n)
    if kind == "hour":
        return t + dt.timedelta(hours=n)
    if kind == "day":
        return t + dt.timedelta(days=n)
    if kind == "week":
        return t + dt.timedelta(days=7)
    if kind == "month":
        months = t.month - 1 + n
        return t.replace(year=t.year + months // 12, month=months % 12 + 1)
    return t.replace(year=t.year + n)


def _label(t: dt.datetime, kind: str) -> str:
    if kind in ("minute", "hour"):
        return f"{t.hour:02d}:{t.minute:02d}"
    if kind == "day":
        return f"{_WEEKDAYS[t.weekday()]} {t.day}"
    if kind == "week":
        return f"{t.day} {_MONTHS[t.month - 1]}"
    if kind == "month":
        return f"{_MONTHS[t.month - 1]} {t.year}"
    return str(t.year)
