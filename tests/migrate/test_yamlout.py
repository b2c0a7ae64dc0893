"""The YAML writer: scalars that read back as written, durations, and the two file shapes."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from watchd.migrate.model import Check, Migration, Origin
from watchd.migrate.yamlout import duration, render, scalar


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.one_of(st.text(max_size=20), st.from_regex(r"\A[-A-Za-z0-9_./@$+=%:]{1,12}\Z")))
def test_scalars_read_back(text: str) -> None:
    """Any string survives as a mapping value, a key, and an item of a flow list."""
    s = scalar(text)
    assert yaml.safe_load(f"k: {s}") == {"k": text}
    assert yaml.safe_load(f"{s}: 1") == {text: 1}
    assert yaml.safe_load(f"k: [{scalar(text, flow=True)}, x]") == {"k": [text, "x"]}


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("check_ping", "check_ping"),
        ("-w", "-w"),
        ("20%", "20%"),
        ("yes", '"yes"'),
        ("1", '"1"'),
        ("a b", '"a b"'),
    ],
    ids=["name", "option", "percent", "yaml-bool", "number", "blank"],
)
def test_scalar_is_plain_when_that_is_unambiguous(text: str, out: str) -> None:
    """Plain where YAML reads it back as the same string, quoted otherwise."""
    assert scalar(text) == out


@pytest.mark.parametrize(
    ("seconds", "out"), [(300, "5m"), (7200, "2h"), (45, "45s"), (90, "90s"), (0.5, "0.5s")]
)
def test_durations(seconds: float, out: str) -> None:
    """Seconds in the largest unit that divides them."""
    assert duration(seconds) == out


def test_fragment_comments_out_what_conf_d_may_not_hold() -> None:
    """A conf.d file keeps contacts and notify lists as comments; the full file makes them live."""
    m = Migration("nagios")
    m.checks.append(Check("a", ("check_x",), Origin("f.cfg", 3), notify=("ops",), comments=["service h/a"]))
    m.renotify_interval = 3600
    fragment = yaml.safe_load(render(m, "watchd import nagios f.cfg"))
    assert fragment == {"checks": {"a": {"command": ["check_x"]}}}
    full = yaml.safe_load(render(m, "watchd import nagios f.cfg", full=True))
    assert full["notify"] == {"renotify_interval": "1h"}
    assert full["checks"]["a"]["notify"] == ["ops"]
    assert "# from f.cfg:3: service h/a" in render(m, "x")


def test_source_text_with_line_breaks_stays_in_its_comment() -> None:
    """A description or finding with a newline cannot break out of a `#` comment."""
    m = Migration("icinga2")
    m.checks.append(Check("a", ("x",), Origin("f\n.conf", 1), description="two\nlines", comments=["s\nt: y"]))
    m.skip(Origin("f.conf", 2), "Service x\ny", "why\nnot")
    doc = yaml.safe_load(render(m, "x", full=True))
    assert doc == {"checks": {"a": {"command": ["x"], "description": "two\nlines"}}}
