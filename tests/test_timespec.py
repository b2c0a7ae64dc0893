"""watchd.core.timespec, the one grammar and range of times and spans for the API, the CLI and MQTT:
examples, then properties (any input gives a bounded value or ValueError, and the published patterns
never refuse what the parser takes, so the OpenAPI document cannot drift from the server)."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import JSON_VALUES, NASTY_NUMBERS, NASTY_TEXT, bounded
from watchd.core import timespec

T2026 = 1795471200.0  # 2026-11-23T22:00:00Z


@pytest.mark.parametrize(
    ("value", "naive_utc", "expected"),
    [
        pytest.param("2026-11-23T22:00:00Z", True, T2026, id="zulu"),
        pytest.param("2026-11-23T22:00Z", True, T2026, id="no-seconds"),
        pytest.param("2026-11-23T23:00:00+01:00", True, T2026, id="offset"),
        pytest.param("2026-11-23T22:00:00.25Z", True, T2026 + 0.25, id="fraction"),
        pytest.param("2026-11-23T22:00:00", True, T2026, id="naive-is-utc"),
        pytest.param(T2026, True, T2026, id="epoch-float"),
        pytest.param(int(T2026), False, T2026, id="epoch-int"),
        pytest.param(timespec.EARLIEST, True, timespec.EARLIEST, id="first-instant"),
    ],
)
def test_instants(value: Any, naive_utc: bool, expected: float) -> None:
    """ISO 8601 forms and epoch seconds give UTC epoch seconds."""
    assert timespec.instant(value, naive_utc=naive_utc) == expected


@pytest.mark.parametrize(
    ("value", "naive_utc", "message"),
    [
        pytest.param("2026-11-23T22:00:00", False, "give a UTC offset or Z", id="naive-refused"),
        pytest.param("2026-11-23", True, "expected a time like", id="date-only"),
        pytest.param("2026-W48-1T10:00", True, "expected a time like", id="week-date"),
        pytest.param("2026-02-30T00:00Z", True, "expected a time like", id="february-30"),
        pytest.param(" 2026-11-23T22:00Z", True, "expected a time like", id="space"),
        pytest.param("2026-11-23T22:00Z\n", True, "expected a time like", id="newline"),
        pytest.param("２０２６-11-23T22:00Z", True, "expected a time like", id="fullwidth-digits"),
        pytest.param(timespec.LATEST, True, "must be between 2000-01-01 and 2100-01-01", id="first-after"),
        pytest.param("1999-12-31T23:59:59Z", True, "not 1999-12-31T23:59:59Z", id="1999"),
        pytest.param(1e300, True, "not 1e+300", id="1e300"),
        pytest.param(10**400, True, "a number of about 401 digits", id="400-digits"),
        pytest.param(math.nan, True, "must be a finite number", id="nan"),
        pytest.param(-math.inf, True, "must be a finite number", id="minus-inf"),
        pytest.param(True, True, "expected a time", id="bool"),
        pytest.param(None, True, "expected a time", id="null"),
        pytest.param("x" * 10_000, True, "...'", id="long-text-shortened"),
    ],
)
def test_instants_refused(value: Any, naive_utc: bool, message: str) -> None:
    """Everything else is a ValueError that says what was expected."""
    with pytest.raises(ValueError, match=re.escape(message)):
        timespec.instant(value, naive_utc=naive_utc)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1w", 604800), ("250ms", 0.25), (" 2 h ", 7200),
     ("1.5h", 5400), (90, 90), (0.5, 0.5), ("366d", timespec.MAX_SPAN)],
)  # fmt: skip
def test_spans(value: Any, expected: float) -> None:
    """Seconds, or a number with one unit."""
    assert timespec.span(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [("0s", "must be positive"), (-5, "must be positive"), ("-5m", "expected a duration"),
     ("367d", "at most 366 days"), ("99999999999999999999d", "at most 366 days"), (1e300, "at most 366 days"),
     (math.inf, "finite"), (math.nan, "finite"), ("1e3", "expected a duration"),
     ("1h30m", "expected a duration"), ("2h\n", "expected a duration"), ([], "not a list"),
     (None, "not null")],
)  # fmt: skip
def test_spans_refused(value: Any, message: str) -> None:
    """Zero, negative, too long, non-finite or malformed spans are ValueErrors."""
    with pytest.raises(ValueError, match=re.escape(message)):
        timespec.span(value)


ANY = st.one_of(
    JSON_VALUES, NASTY_NUMBERS, NASTY_TEXT, st.text(max_size=40),
    st.from_regex(timespec.ISO_PATTERN, fullmatch=True), st.from_regex(timespec.SPAN_PATTERN, fullmatch=True),
)  # fmt: skip


@bounded(500)
@given(value=ANY, naive_utc=st.booleans())
def test_any_instant_is_bounded_or_a_value_error(value: Any, naive_utc: bool) -> None:
    """Whatever is given: a finite instant within range, or ValueError; and text the parser takes
    matches the published ISO_PATTERN (numbers lie within the published bounds)."""
    try:
        t = timespec.instant(value, naive_utc=naive_utc)
    except ValueError:
        return
    assert timespec.EARLIEST <= t < timespec.LATEST
    if isinstance(value, str):
        assert re.fullmatch(timespec.ISO_PATTERN, value)


@bounded(500)
@given(value=ANY)
def test_any_span_is_bounded_or_a_value_error(value: Any) -> None:
    """Whatever is given: a span within (0, 366 days], or ValueError; text it takes matches SPAN_PATTERN."""
    try:
        s = timespec.span(value)
    except ValueError:
        return
    assert 0 < s <= timespec.MAX_SPAN
    if isinstance(value, str):
        assert re.fullmatch(timespec.SPAN_PATTERN, value)


@bounded(300)
@given(when=st.datetimes(dt.datetime(2000, 1, 2), dt.datetime(2099, 12, 30), timezones=st.timezones()))
def test_iso_round_trip(when: dt.datetime) -> None:
    """Any time in range written as ISO 8601 with its offset reads back as the same instant."""
    text = when.isoformat(timespec="microseconds")
    if not re.fullmatch(timespec.ISO_PATTERN, text):  # offsets with seconds (historic zones) are not ours
        return
    assert timespec.instant(text, naive_utc=False) == pytest.approx(when.timestamp(), abs=1e-6)


@bounded(300)
@given(t=st.one_of(st.none(), st.floats(), NASTY_NUMBERS.filter(lambda n: isinstance(n, float))),
       zone=st.sampled_from(["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Berlin"]))  # fmt: skip
def test_renderable_times_format_in_any_zone(t: float | None, zone: str) -> None:
    """A stored time of any value, made renderable, formats in any time zone without an error."""
    r = timespec.renderable(t)
    if r is None:
        assert t is None or math.isnan(t)
        return
    assert 0 <= r <= timespec.LAST_RENDERABLE
    dt.datetime.fromtimestamp(r, ZoneInfo(zone)).isoformat()
