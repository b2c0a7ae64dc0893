"""Threshold ranges exactly as the Nagios plugin development guidelines define them."""

import math
import re

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
    ("@~:", 0, True),  # alert on every value
    ("@5", 0, True),
    ("@5", 5.5, False),
    ("+5", 6, True),
    ("1e3", 999, False),
    ("1e3", 1001, True),
    ("-1.5E+1:-1", -15, False),
    ("-1.5E+1:-1", -15.1, True),
    ("0", 0, False),
    ("0", 1e-9, True),
    ("5:5", 5, False),
    ("5:5", 5.000001, True),
    (".5:", 0.4, True),
    ("5.:", 5, False),
    (" 10 ", 11, True),  # surrounding whitespace is ignored, as in config files
]


@pytest.mark.parametrize(("spec", "value", "alert"), CASES, ids=[f"{c[0]}@{c[1]}" for c in CASES])
def test_alert(spec: str, value: float, alert: bool) -> None:
    """Each range alerts exactly outside its bounds, or inside them for '@'."""
    assert Range.parse(spec).alert(value) is alert


INVALID = [
    ("", "invalid range '': empty"),
    ("  ", "invalid range '': empty"),
    ("@", "invalid range '@': empty"),
    (":", "invalid range ':': a lone ':' is not a range (\"0:\" alerts below 0, \"~:\" never alerts)"),
    ("@:", "invalid range '@:': a lone ':' is not a range (\"0:\" alerts below 0, \"~:\" never alerts)"),
    ("2:1", "invalid range '2:1': start 2 lies above end 1"),
    ("-5", "invalid range '-5': start 0 lies above end -5"),
    ("@-0.5", "invalid range '@-0.5': start 0 lies above end -0.5"),
    ("-5:-10", "invalid range '-5:-10': start -5 lies above end -10"),
    ("abc", "invalid range 'abc': 'abc' is not a number"),
    ("1:2:3", "invalid range '1:2:3': more than one ':'"),
    ("10:x", "invalid range '10:x': 'x' is not a number"),
    ("~", "invalid range '~': '~' is not a number"),
    ("~10", "invalid range '~10': '~10' is not a number"),
    ("10:~", "invalid range '10:~': '~' is not a number"),
    ("inf", "invalid range 'inf': 'inf' is not a number"),
    ("nan:", "invalid range 'nan:': 'nan' is not a number"),
    ("1e999", "invalid range '1e999': '1e999' overflows a float"),
    ("-1e400:", "invalid range '-1e400:': '-1e400' overflows a float"),
    ("1,5", "invalid range '1,5': '1,5' is not a number"),
    ("\u0661", "invalid range '\u0661': '\u0661' is not a number"),  # Arabic-Indic one: ASCII digits only
    ("@@1", "invalid range '@@1': '@1' is not a number"),
    ("10 :20", "invalid range '10 :20': '10 ' is not a number"),
]


@pytest.mark.parametrize(("spec", "message"), INVALID, ids=[repr(c[0]) for c in INVALID])
def test_invalid_ranges_raise(spec: str, message: str) -> None:
    """What the guidelines do not define raises ValueError that quotes the text and says why."""
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
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
