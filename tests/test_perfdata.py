"""Perfdata parsing per the plugin guidelines: quoted labels, UOMs, optional fields, U, garbage."""

import pytest

from watchd.core.model import PerfDatum
from watchd.plugin import format_perfdatum, parse_perfdata, parse_perfdata_counted

P = PerfDatum


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("time=0.5s", [P("time", 0.5, "s")]),
        ("load1=0.210;5.000;10.000;0;", [P("load1", 0.21, "", "5.000", "10.000", 0.0, None)]),
        ("'/ used'=1GB;2;3;0;10", [P("/ used", 1.0, "GB", "2", "3", 0.0, 10.0)]),
        ("'a=b'=1", [P("a=b", 1.0)]),
        ("'it''s'=2c", [P("it's", 2.0, "c")]),
        ("x=U;1;2", [P("x", None, "", "1", "2")]),
        ("pct=99.5%;@10:20;~:30", [P("pct", 99.5, "%", "@10:20", "~:30")]),
        ("a=1 b=2KB  c=3us", [P("a", 1.0), P("b", 2.0, "KB"), P("c", 3.0, "us")]),
        ("neg=-1.5e3ms", [P("neg", -1500.0, "ms")]),
        ("a=1;;;;", [P("a", 1.0)]),
        ("", []),
    ],
    ids=[
        "simple",
        "full",
        "quoted-space",
        "quoted-equals",
        "doubled-quote",
        "unknown-value",
        "ranges",
        "several",
        "exponent",
        "empty-fields",
        "empty",
    ],
)
def test_parse(text: str, expected: list[PerfDatum]) -> None:
    """Well-formed items parse into the documented fields."""
    assert parse_perfdata(text) == expected


@pytest.mark.parametrize(
    ("text", "good_labels", "errors"),
    [
        ("a=1 junk b=2", ["a", "b"], 1),
        ("a=1 b=x c=3", ["a", "c"], 1),
        ("a=1furlongs b=2", ["b"], 1),
        ("=5 a=1", ["a"], 1),
        ("a=1;2;3;4;5;6 b=1", ["b"], 1),
        ("a=1;;;zero b=1", ["b"], 1),
        ("a=1;abc b=1", ["b"], 1),
        ("'unclosed=1 b=2", [], 1),
        ("a=nan b=inf c=1", ["c"], 2),
        ("\x00\xff=1 ok=1", ["\x00\xff", "ok"], 0),
    ],
    ids=[
        "bare-word",
        "non-numeric",
        "bad-uom",
        "no-label",
        "too-many-fields",
        "bad-min",
        "bad-threshold",
        "unclosed-quote",
        "non-finite",
        "odd-label-bytes",
    ],
)
def test_malformed_items_are_skipped_and_counted(text: str, good_labels: list[str], errors: int) -> None:
    """A malformed item is skipped and counted; the others still parse; nothing raises."""
    items, skipped = parse_perfdata_counted(text)
    assert [p.label for p in items] == good_labels
    assert skipped == errors


def test_roundtrip_format() -> None:
    """What format_perfdatum writes parses back to the same item."""
    items = [P("it's a = test", 1.5, "ms", "1", "2", 0.0, 10.0), P("x", None), P("y", 3.0, "%", None, "@5:6")]
    text = " ".join(format_perfdatum(p) for p in items)
    assert parse_perfdata(text) == items
