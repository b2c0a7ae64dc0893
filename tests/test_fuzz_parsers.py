"""Property-based tests (hypothesis) on every parser that reads plugin or user text.

Each parser gives its value or raises its documented error type (ValueError; argparse's ArgumentTypeError;
the plugin kit's exit 3; ConfigError for a whole file); nothing else escapes. Where the grammar is known,
generated well-formed input must also read back right: perfdata round-trips through format_perfdatum and
survives malformed neighbours, ranges agree with a reference model written from the plugin guidelines,
durations with their units, plugin output with the lines it was made of. Every test is derandomized and
bounded (at most a few hundred examples, no deadline): the same examples on every run, seconds in all.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from watchd import config
from watchd.bus import config as bus_config
from watchd.config import ConfigError
from watchd.config import api as api_config
from watchd.config import checks as checks_config
from watchd.config import incidents as incidents_config
from watchd.config import notify as notify_config
from watchd.configkit import reader as r
from watchd.core.businesshours import parse_days, parse_hours
from watchd.core.cron import CronSpec
from watchd.core.model import PerfDatum, State
from watchd.nagios.output import NO_OUTPUT, decode, parse_output, verdict_for_exit
from watchd.nagios.perfdata import format_perfdatum, parse_perfdata, read_perfdata
from watchd.nagios.range import Range
from watchd.plugin.cli import PluginArgumentParser, range_arg, size_arg
from watchd.plugin.lib.debversion import DebVersion
from watchd.plugin.lib.procnet import Expectation
from watchd.plugin.lib.units import format_age, format_size, parse_size
from watchd.sources.plugin import interpret
from watchd.sources.process import ProcessOutcome


def bounded(examples: int) -> settings:
    """Derandomized (the same examples on every run), no per-example deadline, no example database."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


SPACE = " \t\n\r\f\v"
# Text as plugins and users write it, the characters that matter to the parsers over-represented.
noisy_text = st.text(
    st.one_of(st.characters(), st.sampled_from(list("'=;:~@|%/°.,+-eE0123456789 \t\nU"))), max_size=60
)
# Any value a YAML file can give a key.
yaml_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**18, max_value=10**400),
    st.floats(),
    noisy_text,
    st.dates(),
    st.datetimes(),
)
yaml_value = st.recursive(
    yaml_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
SIGN = st.sampled_from(["", "-", "+"])


def outcome(parse: Callable[[Any], object], value: Any) -> tuple[object, ValueError | None]:
    """(value, None) or (None, the ValueError); any other exception fails the test."""
    try:
        return parse(value), None
    except ValueError as exc:
        return None, exc


# -- ranges ------------------------------------------------------------------------------------------

# Numbers as people write them: integers, decimals, a sign, an exponent.
number_text = st.tuples(
    SIGN,
    st.one_of(
        st.integers(0, 10**6).map(str),
        st.tuples(st.integers(0, 999), st.integers(0, 999)).map(lambda p: f"{p[0]}.{p[1]}"),
        st.integers(0, 999).map(lambda n: f".{n}"),
        st.integers(0, 999).map(lambda n: f"{n}."),
    ),
    st.one_of(st.just(""), st.tuples(st.sampled_from("eE"), SIGN, st.integers(0, 30).map(str)).map("".join)),
).map("".join)


def reference_alert(form: str, a: float, b: float, inside: bool, x: float) -> bool:
    """The guidelines' table, written out: when a value raises an alert under each form of range."""
    outside = {
        "N": x < 0 or x > b,  # 10      : < 0 or > 10
        "N:": x < a,  # 10:     : < 10
        "~:N": x > b,  # ~:10    : > 10
        "A:B": x < a or x > b,  # 10:20   : < 10 or > 20
        ":N": x < 0 or x > b,  # :10     : as 10 (monitoring-plugins)
        "~:": False,  # ~:      : never
    }[form]
    return not outside if inside else outside  # @: inside the bounds instead


non_negative_text = number_text.filter(lambda t: float(t) >= 0)


@st.composite
def valid_ranges(draw: st.DrawFn) -> tuple[str, str, float, float, bool]:
    """(text, form, a, b, inside): a range in one of the guidelines' forms, with its bounds."""
    form = draw(st.sampled_from(["N", "N:", "~:N", "A:B", ":N", "~:"]))
    a = b = 0.0
    if form in ("N", ":N"):
        high = draw(non_negative_text)
        text, b = (high if form == "N" else f":{high}"), float(high)
    elif form == "N:":
        low = draw(number_text)
        text, a = f"{low}:", float(low)
    elif form == "~:N":
        high = draw(number_text)
        text, b = f"~:{high}", float(high)
    elif form == "A:B":
        low, high = sorted((draw(number_text), draw(number_text)), key=float)
        text, a, b = f"{low}:{high}", float(low), float(high)
    else:
        text = "~:"
    inside = draw(st.booleans())
    return ("@" if inside else "") + text, form, a, b, inside


@bounded(400)
@given(valid_ranges(), st.one_of(st.floats(allow_nan=False), number_text.map(float)))
def test_ranges_agree_with_the_guidelines(spec: tuple[str, str, float, float, bool], x: float) -> None:
    """A generated valid range parses, keeps its text, and alerts exactly when the guidelines say."""
    text, form, a, b, inside = spec
    rng = Range.parse(text)
    assert str(rng) == text
    assert rng.alert(x) is reference_alert(form, a, b, inside, x), (text, x)


@bounded(500)
@given(st.one_of(noisy_text, number_text, st.integers(), st.floats()))
def test_range_parse_raises_only_value_error(text: str | int | float) -> None:
    """Any text or number is a Range or a ValueError that quotes it; a Range has start <= end, finite
    bounds where given, and its own text."""
    rng, error = outcome(Range.parse, text)
    if error is not None:
        assert str(error).startswith(f"invalid range {str(text).strip()!r}: ")
        return
    assert isinstance(rng, Range)
    assert rng.start <= rng.end
    assert not math.isnan(rng.start)
    assert not math.isnan(rng.end)
    assert str(rng) == str(text).strip()


# -- perfdata ----------------------------------------------------------------------------------------

letters = st.characters(categories=["Lu", "Ll", "Lt", "Lm", "Lo"])
uoms = st.text(st.one_of(letters, st.sampled_from(list("%/°"))), max_size=6)
finite = st.floats(allow_nan=False, allow_infinity=False)
threshold = st.one_of(st.none(), valid_ranges().map(lambda spec: spec[0]), finite.map(repr))


@st.composite
def perfdata_items(draw: st.DrawFn) -> PerfDatum:
    value = draw(st.one_of(st.none(), finite))
    return PerfDatum(
        label=draw(st.text(min_size=1, max_size=20)),
        value=value,
        uom="" if value is None else draw(uoms),
        warn=draw(threshold),
        crit=draw(threshold),
        min=draw(st.one_of(st.none(), finite)),
        max=draw(st.one_of(st.none(), finite)),
    )


@bounded(300)
@given(st.lists(perfdata_items(), max_size=5), st.sampled_from([" ", "  ", "\t", "\n"]))
def test_perfdata_round_trips(items: list[PerfDatum], sep: str) -> None:
    """What format_perfdatum writes parses back to the same items, in order, with nothing malformed."""
    reading = read_perfdata(sep.join(format_perfdatum(p) for p in items))
    assert list(reading.items) == items
    assert reading.errors == 0


# A malformed item on its own: no whitespace (that would make it several), and nothing read from it.
garbage = noisy_text.map(lambda t: "".join(c for c in t if c not in SPACE)).filter(
    lambda t: t != "" and not read_perfdata(t).items
)


@bounded(300)
@given(st.lists(st.tuples(perfdata_items(), st.lists(garbage, max_size=2)), min_size=1, max_size=4))
def test_malformed_neighbours_do_not_affect_well_formed_items(
    pairs: list[tuple[PerfDatum, list[str]]],
) -> None:
    """Items with malformed tokens before and between them (stray quotes included) all parse, in order,
    and every malformed token is reported as skipped."""
    tokens: list[str] = []
    for item, junk in pairs:
        tokens += [*junk, format_perfdatum(item)]
    reading = read_perfdata(" ".join(tokens))
    assert list(reading.items) == [item for item, _ in pairs]
    assert list(reading.skipped) == [j for _, junk in pairs for j in junk]


@bounded(600)
@given(noisy_text)
def test_parse_perfdata_never_raises(text: str) -> None:
    """Any text gives a list of items; every non-blank token is read, skipped or both (trimmed)."""
    reading = read_perfdata(text)
    assert parse_perfdata(text) == list(reading.items)
    assert len(reading.trimmed) <= len(reading.items)
    for p in reading.items:
        assert p.label
        assert p.value is None or math.isfinite(p.value)
        assert all(c.isalpha() or c in "%/°" for c in p.uom)
    assert (reading.reason() is None) == (reading.errors == 0)


# -- plugin output -----------------------------------------------------------------------------------


@bounded(400)
@given(st.binary(max_size=300))
def test_decode_and_parse_output_never_raise(raw: bytes) -> None:
    """Any bytes decode without control characters but tab and newline, and parse into a one-line
    summary that is never empty."""
    text = decode(raw)
    assert all(c in "\t\n" or not (ord(c) < 32 or ord(c) == 127) for c in text)
    out = parse_output(text)
    assert out.summary
    assert "\n" not in out.summary
    assert out.summary == NO_OUTPUT or "|" not in out.summary


line_text = st.text(st.characters(exclude_characters="|\n\r", exclude_categories=["Cc", "Cs"]), max_size=30)


@bounded(250)
@given(
    line_text.filter(lambda s: s.strip() != ""),
    st.lists(perfdata_items(), max_size=3),
    st.lists(line_text, max_size=3),
    st.lists(perfdata_items(), max_size=3),
)
def test_output_reads_back_the_lines_it_was_made_of(
    summary: str, first: list[PerfDatum], long_lines: list[str], later: list[PerfDatum]
) -> None:
    """SUMMARY | PERF, long output lines, `|` and more perfdata: each part comes back where it was."""
    assume(not any(c in p.label for p in first + later for c in "\n\r"))
    text = summary
    if first:
        text += " | " + " ".join(format_perfdatum(p) for p in first)
    body = [line.rstrip() for line in long_lines]
    if later:
        body.append("| " + " ".join(format_perfdatum(p) for p in later))
    out = parse_output("\n".join([text, *body]) + "\n")
    assert out.summary == summary.strip()
    assert out.long_output == "\n".join(body[: len(long_lines)]).strip("\n")
    assert list(out.perfdata) == first + later
    assert out.perfdata_errors == 0


@bounded(300)
@given(
    st.one_of(st.integers(0, 255), st.none()),
    st.one_of(st.none(), st.integers(1, 128)),
    st.binary(max_size=120),
    st.binary(max_size=60),
    st.booleans(),
    st.integers(0, 10**6),
)
def test_interpret_any_process_outcome(
    code: int | None, sig: int | None, stdout: bytes, stderr: bytes, timed_out: bool, dropped: int
) -> None:
    """Any exit status and output is a CheckResult: 0..3 are the states, other codes CRITICAL, a signal
    UNKNOWN, a timeout the timeout state; whenever the state is not the plugin's own there is a reason."""
    assume(code is not None or sig is not None)
    outcome = ProcessOutcome(stdout, stderr, code if sig is None else None, sig, 0.1, timed_out, dropped)
    result = interpret("c", outcome, 5.0, State.CRITICAL, 0.0, 65536)
    verdict = verdict_for_exit(outcome.exit_code, outcome.signal)
    if timed_out:
        assert result.state is State.CRITICAL
    elif sig is not None:
        assert result.state is State.UNKNOWN
    else:
        assert result.state is (State(code) if code is not None and code <= 3 else State.CRITICAL)
    assert result.state is verdict.state or timed_out
    if timed_out or verdict.reason:
        assert result.reason
    assert result.summary
    assert "\n" not in result.summary


# -- durations and other config scalars --------------------------------------------------------------

UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "": 1}


@bounded(300)
@given(st.integers(1, 10**6), st.sampled_from(sorted(UNITS)), st.sampled_from(["", " "]))
def test_duration_units(n: int, unit: str, space: str) -> None:
    """`N unit` is N times the unit in seconds, up to 366 days; beyond, a ValueError."""
    seconds = n * UNITS[unit]
    if seconds > 366 * 86400:
        with pytest.raises(ValueError, match="must be at most 366 days"):
            r.duration(f"{n}{space}{unit}")
    else:
        assert r.duration(f"{n}{space}{unit}") == pytest.approx(seconds)


CONVERTERS: dict[str, Callable[[Any], object]] = {
    "duration": r.duration,
    "positive_int": r.positive_int,
    "number": r.number,
    "string": r.string,
    "boolean": r.boolean,
    "state": r.state,
    "string_list": r.string_list,
    "string_map": r.string_map,
    "timezone": r.timezone,
    "one_of": r.one_of("high", "medium", "low"),
    "member_list": r.member_list(("a", "b"), "contact"),
    "flap_percent": checks_config._percent,
    "maintenance_time": notify_config._time,
    "duration_or_zero": notify_config._duration0,
    "nonnegative_int": notify_config._nonnegative_int,
    "holidays": incidents_config._dates,
    "urgency_shift": incidents_config._shift_steps,
    "api_port": api_config._port,
    "sla_percent": api_config._percent,
    "down_states": api_config._states,
    "mqtt_port": bus_config._port,
    "mqtt_keepalive": bus_config._keepalive,
    "mqtt_qos": bus_config._qos,
    "weekdays": lambda v: parse_days(r.string_list(v)),
    "business_hours": parse_hours,
}


@pytest.mark.parametrize("name", sorted(CONVERTERS))
def test_config_scalars_raise_only_value_error(name: str) -> None:
    """Every config converter takes any YAML value or raises ValueError, whose message reads after
    `key.path: ` (one line, not empty); durations are positive, finite and at most 366 days."""
    conv = CONVERTERS[name]

    @bounded(100)
    @given(yaml_value)
    def check(value: Any) -> None:
        out, error = outcome(conv, value)
        if error is not None:
            assert str(error)
            assert "\n" not in str(error)
        elif name == "duration":
            assert isinstance(out, float)
            assert 0 < out <= 366 * 86400

    check()


@bounded(300)
@given(noisy_text)
def test_business_hours_and_state_names(text: str) -> None:
    """Business hours, weekday names and state names raise only ValueError for any text."""
    for parse in (parse_hours, lambda t: parse_days([t]), State.parse):
        with contextlib.suppress(ValueError):
            parse(text)


# -- cron specs (maintenance windows) ----------------------------------------------------------------

cron_text = st.one_of(
    noisy_text,
    st.lists(
        st.text(st.sampled_from(list("*/,-0123456789abcdefghijklmnopqrstuvwxyz")), min_size=1, max_size=8),
        min_size=1,
        max_size=6,
    ).map(" ".join),
)


@bounded(400)
@given(cron_text, st.sampled_from(["UTC", "Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe"]))
def test_cron_specs_raise_only_value_error(expr: str, zone: str) -> None:
    """Any crontab text is a CronSpec or a ValueError naming the field; a spec computes fire times in any
    zone, DST included."""
    spec, error = outcome(CronSpec.parse, expr)
    if error is not None:
        assert str(error)
        return
    assert isinstance(spec, CronSpec)
    begin = dt.datetime(2026, 3, 27, tzinfo=dt.UTC).timestamp()
    fires = spec.fires(begin, begin + 4 * 86400, ZoneInfo(zone), limit=200)
    assert fires == sorted(fires)
    assert all(begin <= t < begin + 4 * 86400 for t in fires)


# -- plugin kit (checks/ use these for their arguments) ----------------------------------------------


@bounded(400)
@given(st.one_of(noisy_text, st.integers(0, 10**400).map(str), st.tuples(number_text, st.sampled_from(
    ["", "K", "M", "G", "T", "P", "KB", "MiB", "x"])).map("".join)))  # fmt: skip
def test_plugin_argument_types(text: str) -> None:
    """Sizes, ranges, listener specs and Debian versions from a plugin's command line: a value or the
    documented error, never an OverflowError or another exception."""
    try:
        size = parse_size(text)
    except ValueError:
        pass
    else:
        assert size >= 0
    for arg_type in (range_arg, size_arg):
        with contextlib.suppress(argparse.ArgumentTypeError):
            arg_type(text)
    for parse in (Expectation.parse, DebVersion.parse):
        with contextlib.suppress(ValueError):
            parse(text)


@bounded(200)
@given(st.one_of(st.floats(), st.integers(-(10**30), 10**30)))
def test_human_units_never_raise(n: float) -> None:
    """Sizes and ages print for any number, huge, negative or not a number."""
    assert format_size(n)
    assert format_age(n)


@bounded(300)
@given(st.lists(noisy_text, max_size=4))
def test_plugin_parser_exits_unknown_on_bad_arguments(argv: list[str]) -> None:
    """The plugin kit's parser accepts the arguments or exits 3 (UNKNOWN) with a status line on stdout;
    -t must be whole seconds from 0 to a year."""
    parser = PluginArgumentParser("FUZZ", prog="check_fuzz")
    parser.add_argument("-w", "--warning", type=range_arg)
    parser.add_argument("--min-size", type=size_arg)
    out = io.StringIO()
    code: int | str | None = None
    with contextlib.redirect_stdout(out):
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:
            code = exc.code
    if code is None:
        assert 0 <= args.timeout <= 366 * 86400
    elif code != 0:  # 0 only for --help
        assert code == 3
        assert out.getvalue().startswith("FUZZ UNKNOWN - ")


@pytest.mark.parametrize("value", ["-1", "99999999999999999999", "1e3", "nan", "366d"])
def test_plugin_timeout_out_of_range_is_unknown(value: str) -> None:
    """A negative, huge or non-integer -t exits 3 with a status line, instead of failing in alarm()."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as info:
        PluginArgumentParser("FUZZ", prog="check_fuzz").parse_args(["-t", value])
    assert info.value.code == 3
    assert out.getvalue().startswith("FUZZ UNKNOWN - argument -t/--timeout: ")


# -- whole config files ------------------------------------------------------------------------------

CHECK_KEYS = [
    "command", "interval", "retry_interval", "timeout", "max_attempts", "timeout_state", "output_limit",
    "flap_detection", "flap_low", "flap_high", "enabled", "tags", "impact", "urgency", "depends_on", "env",
    "warning", "critical", "url", "host", "port", "mount", "name", "unit", "expect", "days",
]  # fmt: skip
TYPES = ["plugin", "cpu", "disk", "http", "tcp", "tls", "dns", "icmp", "process", "systemd_unit", "load",
         "memory", "net", "uptime"]  # fmt: skip
SECTION_KEYS = {
    "defaults": ["interval", "retry_interval", "timeout", "max_attempts", "flap_low", "flap_high"],
    "scheduler": ["max_concurrent", "kill_grace", "shutdown_grace", "state_flush_interval"],
    "notify": ["renotify_interval", "ticket_wait", "default"],
    "incidents": ["reopen_within", "urgency_shift", "impact", "urgency"],
}


@st.composite
def config_documents(draw: st.DrawFn) -> dict[str, Any]:
    checks = {}
    for i in range(draw(st.integers(1, 3))):
        check = {k: draw(yaml_value) for k in draw(st.lists(st.sampled_from(CHECK_KEYS), max_size=5))}
        check["type"] = draw(st.sampled_from(TYPES))
        if check["type"] == "plugin" and draw(st.booleans()):
            check["command"] = ["/bin/true", *draw(st.lists(st.text(max_size=8), max_size=2))]
        checks[f"c{i}"] = check
    doc: dict[str, Any] = {"api": {"enabled": False}, "checks": checks}
    for section, keys in SECTION_KEYS.items():
        if draw(st.booleans()):
            doc[section] = {k: draw(yaml_value) for k in draw(st.lists(st.sampled_from(keys), max_size=3))}
    if draw(st.booleans()):
        window = {k: draw(yaml_value) for k in draw(st.lists(st.sampled_from(
            ["cron", "duration", "timezone", "days", "start", "checks"]), max_size=4))}  # fmt: skip
        if draw(st.booleans()):
            window["cron"] = draw(cron_text)
        doc["maintenance"] = {"windows": {"w": window}}
    if draw(st.booleans()):
        keys = draw(st.lists(st.sampled_from(["timezone", "days", "hours", "holidays"]), max_size=3))
        doc["incidents"] = {"calendars": {"business": {k: draw(yaml_value) for k in keys}}}
    return doc


def test_whole_config_files_are_config_or_config_error(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A file of hostile values for known keys loads or raises ConfigError; every problem names the
    file and a line."""
    directory = tmp_path_factory.mktemp("fuzz-config")

    @bounded(100)
    @given(config_documents())
    def check(doc: dict[str, Any]) -> None:
        path = Path(tempfile.mkdtemp(dir=directory)) / "watchd.yaml"
        doc["data_dir"] = str(path.parent / "data")
        path.write_text(yaml.safe_dump(doc, allow_unicode=True))
        try:
            config.load(str(path))
        except ConfigError as exc:
            for problem in exc.problems:
                assert problem.file == str(path)
                assert problem.line is not None, problem

    check()
