"""Threshold ranges exactly as the Nagios plugin development guidelines define them."""

import math

import pytest

from watchd.plugin import Range, Thresholds

# (range, value, alert?) - the guideline's table, plus its edges
CASES = [
    ("10", -1, True),
    ("10", 0, False),
    ("10", 10, False),
    ("10", 10.1, True),
    ("10:", 9.9, True),
    ("10:", 10, False),
    ("10:", 1e9, False),
    ("~:10", -1e9, False),
    ("~:10", 10, False),
    ("~:10", 11, True),
    ("10:20", 9, True),
    ("10:20", 10, False),
    ("10:20", 20, False),
    ("10:20", 21, True),
    ("@10:20", 9, False),
    ("@10:20", 10, True),
    ("@10:20", 15, True),
    ("@10:20", 20, True),
    ("@10:20", 21, False),
    ("-5:5", -6, True),
    ("-5:5", -5, False),
    ("1.5:2.5", 2.6, True),
    ("@~:0", -3, True),
    ("@~:0", 1, False),
    (":10", -1, True),  # empty start means 0, as in monitoring-plugins
    ("~:", 1e300, False),
]


@pytest.mark.parametrize(("spec", "value", "alert"), CASES, ids=[f"{c[0]}@{c[1]}" for c in CASES])
def test_alert(spec: str, value: float, alert: bool) -> None:
    """Each range alerts exactly outside its bounds, or inside them for '@'."""
    assert Range.parse(spec).alert(value) is alert


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("@", "empty"),
        ("2:1", "greater than"),
        ("abc", "not a number"),
        ("1:2:3", "more than one"),
        ("10:x", "not a number"),
        ("~", "not a number"),
    ],
    ids=["empty", "at-only", "inverted", "junk", "two-colons", "junk-end", "tilde-alone"],
)
def test_invalid_ranges_raise(spec: str, message: str) -> None:
    """Invalid ranges raise ValueError that says why."""
    with pytest.raises(ValueError, match=message):
        Range.parse(spec)


def test_parsed_bounds() -> None:
    """The parsed bounds are the documented ones (infinities for open ends)."""
    assert Range.parse("10") == Range(0.0, 10.0, False, "10")
    r = Range.parse("~:5")
    assert (r.start, r.end) == (-math.inf, 5.0)
    assert Range.parse("@1:2").inside


@pytest.mark.parametrize(
    ("warn", "crit", "value", "state"),
    [
        ("80", "90", 50, "OK"),
        ("80", "90", 85, "WARNING"),
        ("80", "90", 95, "CRITICAL"),
        ("90", "80", 85, "CRITICAL"),  # critical is tested first
        (None, "10:", 5, "CRITICAL"),
        ("10:", None, 5, "WARNING"),
        (None, None, 1e9, "OK"),
    ],
    ids=["ok", "warning", "critical", "critical-first", "crit-only", "warn-only", "none"],
)
def test_thresholds(warn: str | None, crit: str | None, value: float, state: str) -> None:
    """Thresholds give CRITICAL before WARNING before OK."""
    assert Thresholds(warn, crit).state(value) == state
