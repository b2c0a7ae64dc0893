"""Times and spans as people and programs give them (API bodies, CLI arguments, MQTT commands): one
grammar and one sane range, so the three cannot drift. Pure.

- An instant is epoch seconds (a JSON number) or ISO 8601 text of the form ISO_PATTERN
  (2026-11-23T22:00Z, 2026-11-23T22:00:00.5+01:00); the result is UTC epoch seconds. Text without a
  zone is UTC where a caller allows that (the API), refused where a person may mean local time (the
  CLI, MQTT). Instants lie within [2000-01-01, 2100-01-01) UTC.
- A span is seconds (a number) or text of the form SPAN_PATTERN like "30s", "5m", "2h", "1d" (also
  ms and w), within (0, 366 days].
- Anything else raises ValueError with a message that says what was expected; no other exception
  escapes, whatever the input (NaN, infinities, 400-digit integers, bytes, nested objects).

`renderable` is the other direction: a time read from the store (where an older version may have
written anything) made safe to format, so a read never fails on a stored row.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

EARLIEST = 946684800.0  # 2000-01-01T00:00:00Z, inclusive
LATEST = 4102444800.0  # 2100-01-01T00:00:00Z, exclusive
MAX_SPAN = 366 * 86400.0
LAST_RENDERABLE = 253402214400.0  # 9999-12-31T00:00:00Z: a four-digit year in every time zone

RANGE = "between 2000-01-01 and 2100-01-01 (UTC)"
EXAMPLE_TIME = "2026-11-23T22:00:00Z"
EXAMPLE_SPAN = "30s, 5m or 1h"

# The grammars, written so that Python's re and JSON Schema's (ECMA 262) read them alike: the API's
# OpenAPI document publishes these very patterns (watchd.api.schemas).
ISO_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?$"
)
SPAN_PATTERN = r"^ *([0-9]+(\.[0-9]+)?) *(ms|s|m|h|d|w)? *$"
_ISO = re.compile(ISO_PATTERN)  # used with fullmatch: Python's $ also matches before a final newline
_SPAN = re.compile(SPAN_PATTERN)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, None: 1.0}
_MAX_TEXT = 100  # longer text is no time or span of ours; not worth parsing


def instant(value: Any, *, naive_utc: bool = True) -> float:
    """UTC epoch seconds from epoch seconds or ISO 8601 text, within [EARLIEST, LATEST)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a time (ISO 8601 like {EXAMPLE_TIME}, or epoch seconds)")
    if isinstance(value, str):
        return check_instant(_iso(value, naive_utc))
    return check_instant(value)


def _iso(text: str, naive_utc: bool) -> float:
    shown = text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."
    try:
        if not _ISO.fullmatch(text):  # fromisoformat alone also takes week dates, dates without a time...
            raise ValueError
        t = dt.datetime.fromisoformat(text)  # ...and checks the fields (no month 13, no Feb 30)
    except ValueError:
        raise ValueError(f"expected a time like {EXAMPLE_TIME}, not {shown!r}") from None
    if t.tzinfo is None:
        if not naive_utc:
            raise ValueError(f"give a UTC offset or Z in {shown!r}, times are ambiguous otherwise")
        t = t.replace(tzinfo=dt.UTC)
    return (t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds()


def check_instant(t: float) -> float:
    """`t` as a float if it is a finite instant within [EARLIEST, LATEST); else ValueError."""
    if isinstance(t, float) and not math.isfinite(t):
        raise ValueError(f"must be a finite number, not {t!r}")
    if not EARLIEST <= t < LATEST:  # compared before float(): a 400-digit int would overflow
        raise ValueError(f"must be {RANGE}, not {_shown_time(t)}")
    return float(t)


def span(value: Any) -> float:
    """Seconds from a number or text like "30s", "5m", "2h", "1d", within (0, MAX_SPAN]."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a duration like {EXAMPLE_SPAN}, not {_kind(value)}")
    if isinstance(value, str):
        m = _SPAN.fullmatch(value) if len(value) <= _MAX_TEXT else None
        if not m:
            shown = value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + "..."
            raise ValueError(f"expected a duration like {EXAMPLE_SPAN}, not {shown!r}")
        seconds = float(m.group(1)) * _UNITS[m.group(3)]
        if seconds > MAX_SPAN:  # say it in the words given, not in seconds
            raise ValueError(f"must be at most 366 days, not {value.strip()!r}")
        return check_span(seconds)
    return check_span(value)


def check_span(seconds: float) -> float:
    """`seconds` as a float if it is finite and within (0, MAX_SPAN]; else ValueError."""
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise ValueError(f"must be a finite number, not {seconds!r}")
    if seconds <= 0:
        raise ValueError(f"must be positive, not {_shown(seconds)}")
    if seconds > MAX_SPAN:
        raise ValueError(f"must be at most 366 days, not {_shown(seconds)} seconds")
    return float(seconds)


def renderable(t: float | None) -> float | None:
    """A stored time made safe to format in any time zone: None stays None (so does NaN); a time
    before the epoch is the epoch (which the API shows as no time), one after 9999-12-31T00:00:00Z
    is that."""
    if t is None or t != t:
        return None
    return max(0.0, min(float(t), LAST_RENDERABLE))


def _shown_time(t: float) -> str:
    """An instant for a message: ISO 8601 where it has one, else the number."""
    if -62135596800 <= t <= LAST_RENDERABLE:
        return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _shown(t)


def _shown(n: float) -> str:
    """A number for a message: a 400-digit integer is shown by its magnitude, not in full."""
    if isinstance(n, int) and abs(n) >= 10**18:  # str() of a huge int is slow, or refused past 4300 digits
        return f"{'-' if n < 0 else ''}a number of about {int(n.bit_length() * math.log10(2)) + 1} digits"
    return f"{n:g}" if isinstance(n, float) else str(n)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", type(None): "null"}.get(type(value), repr(value)[:40])
