"""Munin's plugin protocol and master-side arithmetic, without running anything."""

from __future__ import annotations

import pytest

from watchd.core.model import State
from watchd.nagios.range import Range
from watchd.sources.munin.judge import Memory, Override, evaluate, munin_range
from watchd.sources.munin.protocol import (
    parse_autoconf,
    parse_config,
    parse_fetch,
    parse_markers,
    parse_value,
)

LOAD_CONFIG = """graph_title Load average
graph_args --base 1000 -l 0
graph_vlabel load
load.label load
load.warning 5
load.critical 10
"""


def perf(verdict: object) -> dict[str, float | None]:
    return {p.label: p.value for p in verdict.perfdata}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "value", "at"),
    [
        pytest.param("0.72", 0.72, None, id="plain"),
        pytest.param("-3", -3.0, None, id="negative"),
        pytest.param("1.5e3", 1500.0, None, id="exponent"),
        pytest.param("U", None, None, id="unknown"),
        pytest.param("1700000000:42", 42.0, 1700000000.0, id="timestamped"),
        pytest.param("1700000000:U", None, 1700000000.0, id="timestamped-unknown"),
    ],
)
def test_parse_value(text: str, value: float | None, at: float | None) -> None:
    """Values, timestamps and U as munin-node passes them on."""
    assert parse_value(text) == (value, at)


@pytest.mark.parametrize("text", ["abc", "", "nan", "inf", "1e999", "x:5", "1,5"], ids=repr)
def test_parse_value_rejects(text: str) -> None:
    """Anything that is not a finite number or U is an error, not a silent zero."""
    with pytest.raises(ValueError, match="number"):
        parse_value(text)


@pytest.mark.parametrize(
    ("spec", "inside_ok", "outside_alert"),
    [
        pytest.param("10", [-5.0, 0.0, 10.0], [10.5], id="upper-only"),
        pytest.param("5:10", [5.0, 7.0, 10.0], [4.9, 10.1], id="min-max"),
        pytest.param(":10", [-100.0, 10.0], [11.0], id="colon-max"),
        pytest.param("5:", [5.0, 1e9], [4.0], id="min-colon"),
        pytest.param("-10:-5", [-7.0], [-4.0, -11.0], id="negatives"),
    ],
)
def test_munin_range(spec: str, inside_ok: list[float], outside_alert: list[float]) -> None:
    """Munin's range syntax: a single number is an upper limit (unlike a Nagios range)."""
    r = munin_range(spec)
    assert r is not None
    assert [r.alert(v) for v in inside_ok] == [False] * len(inside_ok)
    assert [r.alert(v) for v in outside_alert] == [True] * len(outside_alert)


def test_munin_range_empty_and_bad() -> None:
    """`:` means no limit; garbage is an error the check reports."""
    assert munin_range(":") is None
    with pytest.raises(ValueError, match="not a number"):
        munin_range("ten")
    with pytest.raises(ValueError, match="lies above end"):
        munin_range("10:5")


def test_parse_config_single_graph() -> None:
    """Graph attributes without the graph_ prefix, field attributes per field, in order."""
    cfg = parse_config(LOAD_CONFIG + "# a comment\n\nload.info 5 minute load average\n")
    assert not cfg.multigraph
    assert cfg.problems.count == 0
    (graph,) = cfg.graphs
    assert graph.name == ""
    assert graph.attrs["title"] == "Load average"
    assert graph.attrs["vlabel"] == "load"
    (field,) = graph.fields
    assert field.name == "load"
    assert field.type == "GAUGE"
    assert dict(field.attrs) == {
        "label": "load", "warning": "5", "critical": "10", "info": "5 minute load average",
    }  # fmt: skip


def test_parse_config_multigraph_and_problems() -> None:
    """`multigraph` switches graphs; bad lines are counted with their line numbers."""
    text = (
        "multigraph a\ngraph_title A\nx.label x\nx.type DERIVE\nx.min 0\n"
        "multigraph a.sub\ngraph_title A sub\nx.label x again\n"
        "this is garbage\n9bad.label y\nmultigraph bad name\n"
    )
    cfg = parse_config(text)
    assert cfg.multigraph
    assert [(g.name, [f.name for f in g.fields]) for g in cfg.graphs] == [("a", ["x"]), ("a.sub", ["x"])]
    assert cfg.graphs[0].fields[0].type == "DERIVE"
    assert cfg.graphs[0].fields[0].number("min") == 0.0
    assert cfg.problems.count == 3
    assert cfg.problems.first[0].startswith("line 9: 'this is garbage'")


def test_parse_fetch() -> None:
    """Values per graph, extinfo kept, garbage counted, never raised."""
    fetch = parse_fetch(
        "load.value 0.5\nload.extinfo busy\nmultigraph g2\nx.value U\nnonsense\ny.value abc\n"
    )
    assert [(s.graph, s.field, s.value) for s in fetch.samples] == [("", "load", 0.5), ("g2", "x", None)]
    assert fetch.extinfo == {("", "load"): "busy"}
    assert fetch.multigraph
    assert fetch.problems.count == 2


@pytest.mark.parametrize(
    ("text", "family", "caps"),
    [
        pytest.param("#%# family=auto\n#%# capabilities=autoconf\n", "auto", {"autoconf"}, id="debian-style"),
        pytest.param(
            "#%# family=contrib capabilities=autoconf suggest\n",
            "contrib",
            {"autoconf", "suggest"},
            id="one-line",
        ),
        pytest.param("#!/bin/sh\necho hi\n", None, set(), id="none"),
    ],
)
def test_markers(text: str, family: str | None, caps: set[str]) -> None:
    """Magic markers anywhere in the file; capabilities may be several words."""
    m = parse_markers(text)
    assert m.family == family
    assert m.capabilities == caps


@pytest.mark.parametrize(
    ("text", "ok"),
    [("yes\n", True), ("no (no /proc/loadavg)\n", False), ("", False), ("\n yes", True)],
    ids=["yes", "no-reason", "empty", "leading-blank"],
)
def test_autoconf(text: str, ok: bool) -> None:
    """The first non-empty line says yes or no."""
    assert parse_autoconf(text)[0] is ok


@pytest.mark.parametrize(
    ("value", "state"),
    [(1.0, State.OK), (5.0, State.OK), (5.1, State.WARNING), (11.0, State.CRITICAL)],
    ids=["low", "at-warning", "warning", "critical"],
)
def test_plugin_thresholds(value: float, state: State) -> None:
    """The plugin's own warning/critical fields judge its values."""
    v = evaluate(parse_config(LOAD_CONFIG), parse_fetch(f"load.value {value}\n"), Memory(), 0.0)
    assert v.state is state
    (p,) = v.perfdata
    assert (p.label, p.value, p.warn, p.crit) == ("load", value, "~:5", "~:10")


@pytest.mark.parametrize(
    ("overrides", "value", "state", "warn", "crit"),
    [
        pytest.param(
            [Override("*", Range.parse("20"), Range.parse("30"))],
            11.0,
            State.OK,
            "20",
            "30",
            id="check-overrides-both",
        ),
        pytest.param(
            [Override("*", None, Range.parse("~:50"))],
            6.0,
            State.WARNING,
            "~:5",
            "~:50",
            id="only-critical-overridden",
        ),
        pytest.param(
            [Override("lo*", Range.parse("1"), None)], 2.0, State.WARNING, "1", "~:10", id="glob-per-field"
        ),
        pytest.param(
            [Override("other", Range.parse("1"), None)],
            2.0,
            State.OK,
            "~:5",
            "~:10",
            id="no-match-keeps-plugin",
        ),
    ],
)
def test_check_thresholds_override(
    overrides: list[Override], value: float, state: State, warn: str, crit: str
) -> None:
    """The check's own thresholds replace the plugin's, warning and critical separately."""
    v = evaluate(parse_config(LOAD_CONFIG), parse_fetch(f"load.value {value}\n"), Memory(), 0.0, overrides)
    assert v.state is state
    assert (v.perfdata[0].warn, v.perfdata[0].crit) == (warn, crit)


DERIVE_CONFIG = "graph_title T\nbytes.label b\nbytes.type {type}\nbytes.min 0\nbytes.max 1000\n"


@pytest.mark.parametrize(
    ("type_", "samples", "expected"),
    [
        pytest.param("DERIVE", [(100, 0.0), (400, 10.0), (900, 20.0)], [None, 30.0, 50.0], id="derive"),
        pytest.param("DERIVE", [(500, 0.0), (100, 10.0)], [None, None], id="derive-below-min-is-U"),
        pytest.param("DERIVE", [(0, 0.0), (50000, 10.0)], [None, None], id="derive-above-max-is-U"),
        pytest.param(
            "COUNTER",
            [(100, 0.0), (50, 10.0), (150, 20.0)],
            [None, None, 10.0],
            id="counter-down-is-U-then-resumes",
        ),
        pytest.param("ABSOLUTE", [(100, 0.0), (100, 10.0)], [None, 10.0], id="absolute"),
    ],
)
def test_rates(type_: str, samples: list[tuple[float, float]], expected: list[float | None]) -> None:
    """Rate fields are per second between fetches; the first sample primes; min/max bound rates."""
    cfg = parse_config(DERIVE_CONFIG.format(type=type_))
    mem = Memory()
    got = []
    for value, now in samples:
        v = evaluate(cfg, parse_fetch(f"bytes.value {value}\n"), mem, now)
        got.append(perf(v)["bytes"])
        assert v.state is State.OK
    assert got == expected


def test_rate_uses_plugin_timestamps() -> None:
    """`EPOCH:VALUE` times the rate by the plugin's clock, not the time of the fetch."""
    cfg = parse_config(DERIVE_CONFIG.format(type="DERIVE"))
    mem = Memory()
    evaluate(cfg, parse_fetch("bytes.value 1000000:100\n"), mem, 0.0)
    v = evaluate(cfg, parse_fetch("bytes.value 1000004:300\n"), mem, 99.0)
    assert perf(v)["bytes"] == 50.0


def test_priming_is_said() -> None:
    """The first run of a rate-only plugin says it is collecting, with U perfdata for every field."""
    v = evaluate(
        parse_config(DERIVE_CONFIG.format(type="DERIVE")), parse_fetch("bytes.value 5\n"), Memory(), 0
    )
    assert v.state is State.OK
    assert "collecting the first sample" in v.text
    assert perf(v) == {"bytes": None}


def test_unknown_limit() -> None:
    """U in a field with thresholds turns UNKNOWN on the third U in a row (munin-limits' default);
    a value in between resets the count."""
    cfg = parse_config(LOAD_CONFIG)
    mem = Memory()
    states = []
    for value in ["U", "U", "7", "U", "U", "U"]:
        states.append(evaluate(cfg, parse_fetch(f"load.value {value}\n"), mem, 0.0).state)
    assert states == [State.OK, State.OK, State.WARNING, State.WARNING, State.WARNING, State.UNKNOWN]


def test_unknown_limit_from_plugin() -> None:
    """A field's own `unknown_limit 1` makes the first U count."""
    cfg = parse_config(LOAD_CONFIG + "load.unknown_limit 1\n")
    assert evaluate(cfg, parse_fetch("load.value U\n"), Memory(), 0.0).state is State.UNKNOWN


def test_unknown_without_thresholds_is_ok() -> None:
    """A U where nothing is judged is a gap in the graph (perfdata U), not a problem."""
    v = evaluate(parse_config("a.label a\n"), parse_fetch("a.value U\n"), Memory(), 0.0)
    assert v.state is State.OK
    assert perf(v) == {"a": None}


def test_multigraph_labels_and_units() -> None:
    """Multigraph perfdata is labelled graph.field; units come from graph_vlabel where Nagios has one."""
    cfg = parse_config(
        "multigraph disk\ngraph_vlabel %\nsda.label sda\n"
        "multigraph mem\ngraph_vlabel Bytes\nsda.label sda\n"
        "multigraph io\ngraph_vlabel Bytes/${graph_period}\nsda.label sda\nsda.type DERIVE\n"
    )
    fetch = parse_fetch(
        "multigraph disk\nsda.value 50\nmultigraph mem\nsda.value 2048\nmultigraph io\nsda.value 1\n"
    )
    v = evaluate(cfg, fetch, Memory(), 0.0)
    assert [(p.label, p.uom) for p in v.perfdata] == [("disk.sda", "%"), ("mem.sda", "B"), ("io.sda", "")]
    assert "3 graphs, 3 fields" in v.text
    assert "mem.sda 2.0 KiB" in v.text


def test_undeclared_and_missing_fields() -> None:
    """A fetched field the config lacks is kept as a gauge (and said); a declared one not fetched is U."""
    v = evaluate(parse_config("a.label a\nb.label b\n"), parse_fetch("a.value 1\nc.value 2\n"), Memory(), 0.0)
    assert perf(v) == {"a": 1.0, "b": None, "c": 2.0}
    assert v.reason is not None
    assert "does not declare: c" in v.reason


def test_garbage_and_empty_fetch() -> None:
    """Garbage only: UNKNOWN at once, naming the line. Nothing at all: UNKNOWN from the third time."""
    cfg = parse_config(LOAD_CONFIG)
    v = evaluate(cfg, parse_fetch("Traceback (most recent call last):\n"), Memory(), 0.0)
    assert v.state is State.UNKNOWN
    assert "line 1: 'Traceback" in v.text
    mem = Memory()
    states = [evaluate(cfg, parse_fetch(""), mem, 0.0).state for _ in range(3)]
    assert states == [State.OK, State.OK, State.UNKNOWN]


def test_extinfo_in_problem_text() -> None:
    """A field's extinfo explains the alert, as Munin's notifications do."""
    v = evaluate(
        parse_config(LOAD_CONFIG), parse_fetch("load.value 12\nload.extinfo runaway cron\n"), Memory(), 0
    )
    assert v.state is State.CRITICAL
    assert v.text == "load 12 (critical ~:10): runaway cron"


def test_bad_plugin_threshold_is_reported() -> None:
    """A threshold the plugin got wrong is ignored and named in the reason."""
    v = evaluate(parse_config("a.label a\na.warning lots\n"), parse_fetch("a.value 1\n"), Memory(), 0.0)
    assert v.state is State.OK
    assert v.reason is not None
    assert "a.warning 'lots' ignored" in v.reason
    assert (v.perfdata[0].value, v.perfdata[0].warn) == (1.0, None)
