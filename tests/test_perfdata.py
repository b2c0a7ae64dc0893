"""Perfdata read as Icinga 2 reads it (Nagios Core 4 passes it on unparsed): quoted labels, any unit of
letters, `%`, `/` or `°`, signed numbers with exponents, and malformed items that never cost their
neighbours. Where Icinga 2 is installed, the well-formed rows are checked against its own parser."""

import json
import os
import subprocess
from typing import Any

import pytest

from watchd.core.model import PerfDatum
from watchd.nagios.perfdata import format_number, read_perfdata
from watchd.plugin import format_perfdatum, parse_perfdata, parse_perfdata_counted

P = PerfDatum

WELL_FORMED = [
    ("simple", "time=0.5s", [P("time", 0.5, "s")]),
    ("full", "load1=0.210;5.000;10.000;0;", [P("load1", 0.21, "", "5.000", "10.000", 0.0, None)]),
    ("quoted-space", "'/ used'=1GB;2;3;0;10", [P("/ used", 1.0, "GB", "2", "3", 0.0, 10.0)]),
    ("quoted-equals", "'a=b'=1", [P("a=b", 1.0)]),
    ("doubled-quote", "'it''s'=2c", [P("it's", 2.0, "c")]),
    ("quoted-only-quote", "''''=1", [P("'", 1.0)]),
    ("unknown-value", "x=U;1;2", [P("x", None, "", "1", "2")]),
    ("ranges", "pct=99.5%;@10:20;~:30", [P("pct", 99.5, "%", "@10:20", "~:30")]),
    ("open-ranges", "a=1;10:;:5", [P("a", 1.0, "", "10:", ":5")]),
    ("negative-plain-threshold", "t=-15C;-10;-20", [P("t", -15.0, "C", "-10", "-20")]),
    ("several", "a=1 b=2KB  c=3us", [P("a", 1.0), P("b", 2.0, "KB"), P("c", 3.0, "us")]),
    ("tab-and-newline", "a=1\tb=2\nc=3", [P("a", 1.0), P("b", 2.0), P("c", 3.0)]),
    ("empty-fields", "a=1;;;;", [P("a", 1.0)]),
    ("trailing-semicolon", "a=1;2;3;4;5;", [P("a", 1.0, "", "2", "3", 4.0, 5.0)]),
    ("empty", "", []),
    ("only-spaces", "   ", []),
    # units: anything of letters, %, / and ° is kept as written (Icinga 2 knows some, keeps the value of all)
    ("unit-dbm", "signal=-67dBm", [P("signal", -67.0, "dBm")]),
    ("unit-currency", "cost=12.50EUR;100;200", [P("cost", 12.5, "EUR", "100", "200")]),
    ("unit-rate", "rate=3.5req/s", [P("rate", 3.5, "req/s")]),
    ("unit-bytes-rate", "tx=10MiB/s", [P("tx", 10.0, "MiB/s")]),
    ("unit-degrees", "temp=41.5°C;60;80", [P("temp", 41.5, "°C", "60", "80")]),
    ("unit-micro", "lat=5µs", [P("lat", 5.0, "µs")]),
    ("unit-watt-hours", "energy=1.2kWh", [P("energy", 1.2, "kWh")]),
    ("unit-packets", "rx=12packets", [P("rx", 12.0, "packets")]),
    ("unit-counter", "n=17c", [P("n", 17.0, "c")]),
    ("unit-percent-slash", "ratio=5%/s", [P("ratio", 5.0, "%/s")]),
    ("unit-letter-e", "x=1e", [P("x", 1.0, "e")]),  # no exponent digits: `e` is the unit
    ("unit-exabytes", "x=1EB", [P("x", 1.0, "EB")]),
    # numbers: sign, fraction, exponent
    ("exponent", "neg=-1.5e3ms", [P("neg", -1500.0, "ms")]),
    ("exponent-plus-sign", "a=+1.5E+2", [P("a", 150.0)]),
    ("exponent-negative", "a=2e-3s", [P("a", 0.002, "s")]),
    ("exponent-with-unit", "a=1E5B", [P("a", 100000.0, "B")]),
    ("icinga-example", "a=+1.E-1EW", [P("a", 0.1, "EW")]),
    ("leading-dot", "a=.5", [P("a", 0.5)]),
    ("trailing-dot", "a=5.", [P("a", 5.0)]),
    ("negative-zero", "a=-0", [P("a", -0.0)]),
    ("big-integer", "a=123456789012345678", [P("a", 123456789012345678.0)]),
    ("exponent-min-max", "a=1;;;-1e3;1E3", [P("a", 1.0, "", None, None, -1000.0, 1000.0)]),
    ("unicode-label", "température=5", [P("température", 5.0)]),
    ("semicolon-in-label", "a;b=1", [P("a;b", 1.0)]),
]


@pytest.mark.parametrize(("text", "expected"), [r[1:] for r in WELL_FORMED], ids=[r[0] for r in WELL_FORMED])
def test_well_formed(text: str, expected: list[PerfDatum]) -> None:
    """Well-formed items parse into the documented fields, units as written."""
    reading = read_perfdata(text)
    assert list(reading.items) == expected
    assert reading.errors == 0
    assert reading.reason() is None


# (id, text, labels kept, skipped items, items kept without a bad field)
MALFORMED = [
    ("bare-word", "a=1 junk b=2", ["a", "b"], ["junk"], []),
    ("non-numeric", "a=1 b=x c=3", ["a", "c"], ["b=x"], []),
    ("digit-in-unit", "a=1m2 b=2", ["b"], ["a=1m2"], []),
    ("underscore-in-unit", "a=1foo_bar b=2", ["b"], ["a=1foo_bar"], []),
    ("decimal-comma", "a=1,5 b=2", ["b"], ["a=1,5"], []),
    ("no-label", "=5 a=1", ["a"], ["=5"], []),
    ("no-value", "a= b=1", ["b"], ["a="], []),
    ("only-unit", "a=ms b=1", ["b"], ["a=ms"], []),
    ("two-equals", "a=b=1 c=1", ["c"], ["a=b=1"], []),
    ("non-finite", "a=nan b=inf c=1 d=1e999", ["c"], ["a=nan", "b=inf", "d=1e999"], []),
    ("unknown-with-unit", "a=Us b=1", ["b"], ["a=Us"], []),
    ("unclosed-quote", "'unclosed=1 b=2", ["b"], ["'unclosed=1"], []),
    ("quote-not-followed-by-equals", "'a b'c=1 d=2", ["d"], ["'a", "b'c=1"], []),
    ("quote-closing-far-away", "'a=1 b=2 'c'=3", ["b", "c"], ["'a=1"], []),
    ("quote-inside-label", "it's=1 b=2", ["b"], ["it's=1"], []),
    ("stray-quote-before-equals-label", "'g '=x'=1 b=2", ["=x", "b"], ["'g"], []),
    ("stray-quote-before-bad-field", "'g '=5;'=1", ["=5;"], ["'g"], []),
    ("empty-quoted-label", "''=1 b=2", ["b"], ["''=1"], []),
    ("pipe-token", "b=1 | c=2", ["b", "c"], ["|"], []),
    ("odd-label-bytes", "\x00\xff=1 ok=1", ["\x00\xff", "ok"], [], []),
    ("sixth-field", "a=1;2;3;4;5;6 b=1", ["a", "b"], [], ["a=1;2;3;4;5;6"]),
    ("bad-min", "a=1;;;zero b=1", ["a", "b"], [], ["a=1;;;zero"]),
    ("bad-threshold", "a=1;abc b=1", ["a", "b"], [], ["a=1;abc"]),
    ("inverted-threshold", "a=1;10:5 b=1", ["a", "b"], [], ["a=1;10:5"]),
    ("unit-on-min-max", "a=50%;80;90;0%;100%", ["a"], [], ["a=50%;80;90;0%;100%"]),
    ("infinite-max", "a=1;;;0;1e999", ["a"], [], ["a=1;;;0;1e999"]),
]


@pytest.mark.parametrize(
    ("text", "labels", "skipped", "trimmed"), [r[1:] for r in MALFORMED], ids=[r[0] for r in MALFORMED]
)
def test_malformed_items_never_cost_their_neighbours(
    text: str, labels: list[str], skipped: list[str], trimmed: list[str]
) -> None:
    """A malformed item is skipped (or kept without its bad field) and reported; its neighbours parse."""
    reading = read_perfdata(text)
    assert [p.label for p in reading.items] == labels
    assert list(reading.skipped) == skipped
    assert list(reading.trimmed) == trimmed
    items, errors = parse_perfdata_counted(text)
    assert (len(items), errors) == (len(labels), len(skipped) + len(trimmed))


def test_trimmed_item_keeps_what_it_could_read() -> None:
    """An item with a bad field keeps its value, unit and good fields, as Icinga 2 keeps them."""
    assert parse_perfdata("a=50%;80;zz;0%;100") == [P("a", 50.0, "%", "80", None, None, 100.0)]


def test_reason_quotes_the_offending_items() -> None:
    """The reason names the skipped and trimmed items, the first three of each, long ones cut."""
    reading = read_perfdata("j1 j2 j3 j4 a=1;x " + "b" * 60)
    assert reading.reason() == (
        "5 malformed perfdata item(s) skipped: 'j1', 'j2', 'j3', \u2026; "
        "1 perfdata item(s) kept without unreadable fields: 'a=1;x'"
    )
    assert "b" * 40 + "\u2026" in (read_perfdata("b" * 60).reason() or "")


def test_roundtrip_format() -> None:
    """What format_perfdatum writes parses back to the same item, units and big numbers included."""
    items = [
        P("it's a = test", 1.5, "ms", "1", "2", 0.0, 10.0),
        P("x", None),
        P("y", 3.0, "%", None, "@5:6"),
        P("'quoted'", 1234567.0, "dBm", None, None, -1e-7, 1e300),
        P("z", 0.1 + 0.2, "req/s"),
    ]
    text = " ".join(format_perfdatum(p) for p in items)
    assert parse_perfdata(text) == items


NUMBERS = [
    ("integral", 1234567.0, "1234567"),
    ("fraction", 0.5, "0.5"),
    ("negative", -3.0, "-3"),
    ("huge", 1e300, "1e+300"),
    ("below-limit", 1e15, "1000000000000000"),
    ("at-limit", 1e16, "1e+16"),
    ("tiny", 2.5e-7, "2.5e-07"),
]


@pytest.mark.parametrize(("value", "text"), [n[1:] for n in NUMBERS], ids=[n[0] for n in NUMBERS])
def test_format_number_is_exact(value: float, text: str) -> None:
    """Numbers are written exactly, integral ones without a fraction (not 1.23457e+06)."""
    assert format_number(value) == text


def test_non_finite_value_is_written_as_unknown() -> None:
    """A plugin's inf or nan value is written `U` (unknown), which every reader accepts; such a min or max
    is left out."""
    assert format_perfdatum(P("a", float("inf"), "s", None, None, float("nan"), 5.0)) == "a=U;;;;5"


ICINGA2 = "/usr/sbin/icinga2"


def icinga2_parse(items: list[str]) -> list[dict[str, Any] | None]:
    """Icinga 2's own parse_performance_data on each item (None where it throws), via `icinga2 console`."""
    literal = json.dumps(items, ensure_ascii=False)
    script = (
        f"var out = []; for (s in {literal}) {{ try {{ out.add(parse_performance_data(s)) }} "
        "except { out.add(null) } }; out"
    )
    proc = subprocess.run(
        [ICINGA2, "console", "--eval", script], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.skipif(not os.path.exists(ICINGA2), reason="icinga2 is not installed")
def test_icinga2_reads_what_watchd_reads() -> None:
    """Every well-formed row's items (but `U`, which Icinga 2 rejects) are read by Icinga 2 2.13 too, with
    the same label, and where Icinga keeps the unit's scale (unknown units, %, counters) the same value and
    plain-number thresholds."""
    items = [p for _, _, expected in WELL_FORMED for p in expected if p.value is not None]
    got = icinga2_parse([format_perfdatum(p) for p in items])
    for p, ic in zip(items, got, strict=True):
        assert ic is not None, format_perfdatum(p)
        if "'" not in p.label:  # Icinga 2 does not undo '' inside quotes
            assert ic["label"] == p.label
        if ic["unit"] in ("", "percent"):
            assert ic["value"] == pytest.approx(p.value), format_perfdatum(p)
            for ours, theirs in ((p.warn, ic["warn"]), (p.crit, ic["crit"])):
                if ours is not None and ":" not in ours and "@" not in ours:
                    assert theirs == pytest.approx(float(ours))
    assert icinga2_parse(["x=U"]) == [None]  # the documented difference
