"""The shared plugin command-line plumbing (watchd.plugin.cli) and unit helpers, in-process."""

from __future__ import annotations

import signal

import pytest

from watchd.nagios.range import Range
from watchd.plugin.cli import (
    PluginArgumentParser,
    PluginTimeout,
    arm_timeout,
    guard,
    range_arg,
    scale_range,
)
from watchd.plugin.lib.units import format_age, format_size, parse_size


def parser() -> PluginArgumentParser:
    p = PluginArgumentParser("DEMO", prog="check_demo", description="A demo.")
    p.add_argument("-w", "--warning", type=range_arg)
    p.add_argument("--count", type=int, required=True)
    return p


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--count", "1", "--nope"], "unrecognized arguments: --nope"),
        ([], "the following arguments are required: --count"),
        (["--count", "x"], "argument --count: invalid int value: 'x'"),
        (["--count", "1", "-w", "5:1"], "argument -w/--warning: invalid range '5:1'"),
    ],
    ids=["unknown option", "missing option", "bad type", "bad range"],
)
def test_errors_exit_unknown_with_usage_on_stdout(
    capsys: pytest.CaptureFixture[str], argv: list[str], reason: str
) -> None:
    """argparse's exit 2 on stderr becomes the Nagios way: exit 3, status line and usage on stdout."""
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(argv)
    assert exc.value.code == 3
    out, err = capsys.readouterr()
    assert out.startswith(f"DEMO UNKNOWN - {reason}")
    assert "usage: check_demo [-h] [-t SECONDS]" in out
    assert err == ""


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    """--help prints to stdout and exits 0."""
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["--help"])
    assert exc.value.code == 0
    assert "A demo." in capsys.readouterr().out


def test_timeout_option_default() -> None:
    """Every plugin gets -t/--timeout."""
    assert parser().parse_args(["--count", "1"]).timeout == 30
    assert parser().parse_args(["--count", "1", "-t", "5"]).timeout == 5


def test_guard_turns_exceptions_into_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    """An unexpected exception is one UNKNOWN line and exit 3, never a traceback and exit 1."""

    def boom() -> None:
        raise PermissionError(13, "Permission denied", "/var/log/secret\nlog")

    with pytest.raises(SystemExit) as exc:
        guard(boom, "DEMO")
    assert exc.value.code == 3
    out = capsys.readouterr().out
    assert out == "DEMO UNKNOWN - PermissionError: [Errno 13] Permission denied: '/var/log/secret\\nlog'\n"


def test_guard_passes_plugin_exits_through() -> None:
    """A plugin's own SystemExit (its state) is not touched."""

    def critical() -> None:
        raise SystemExit(2)

    with pytest.raises(SystemExit) as exc:
        guard(critical, "DEMO")
    assert exc.value.code == 2


def test_arm_timeout_raises_plugin_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    """The alarm handler raises PluginTimeout, which guard reports as UNKNOWN with the time."""
    previous = signal.getsignal(signal.SIGALRM)
    try:
        arm_timeout(120, "DEMO")
        signal.alarm(0)  # do not let it fire for real; call the installed handler instead
        handler = signal.getsignal(signal.SIGALRM)
        assert callable(handler)

        def hang() -> None:
            handler(signal.SIGALRM, None)

        with pytest.raises(SystemExit) as exc:
            guard(hang, "DEMO")
        assert exc.value.code == 3
        assert capsys.readouterr().out == "DEMO UNKNOWN - timed out after 120 s\n"
        with pytest.raises(PluginTimeout):
            handler(signal.SIGALRM, None)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    ("spec", "factor", "text"),
    [
        ("26", 3600, "93600"),
        ("10:", 60, "600:"),
        ("~:2", 86400, "~:172800"),
        ("@1:2", 3600, "@3600:7200"),
        ("1000000", 3600, "3600000000"),
        ("0.5", 3600, "1800"),
        ("0.001", 1, "0.001"),
    ],
    ids=[
        "plain",
        "lower bound",
        "no lower bound",
        "inside",
        "no exponent",
        "fraction to integer",
        "fraction",
    ],
)
def test_scale_range(spec: str, factor: float, text: str) -> None:
    """Ranges scale to base units and render without exponents; alerting is unchanged."""
    scaled = scale_range(Range.parse(spec), factor)
    assert scaled is not None
    assert str(scaled) == text
    assert Range.parse(text) == Range(scaled.start, scaled.end, scaled.inside, text)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("512", 512),
        ("10K", 10240),
        ("1M", 1048576),
        ("1.5G", 1610612736),
        ("2MiB", 2097152),
        ("3kb", 3072),
    ],
    ids=["zero", "bytes", "kibi", "mebi", "fraction", "iB suffix", "lower case"],
)
def test_parse_size(text: str, size: int) -> None:
    """Sizes use powers of 1024, as du -h."""
    assert parse_size(text) == size


@pytest.mark.parametrize(
    "text", ["", "M", "1X", "-1K", "1 M B"], ids=["empty", "no number", "bad unit", "negative", "junk"]
)
def test_parse_size_rejects(text: str) -> None:
    """Unparsable sizes raise ValueError naming the input."""
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5, "5 s"), (600, "10 min"), (5 * 3600, "5.0 h"), (3 * 86400, "3.0 d")],
    ids=["seconds", "minutes", "hours", "days"],
)
def test_format_age(seconds: float, text: str) -> None:
    """Ages read naturally at each scale."""
    assert format_age(seconds) == text


def test_format_size() -> None:
    """Small sizes exact, larger ones in binary units."""
    assert [format_size(n) for n in (10, 1536, 5 * 1024**3)] == ["10 B", "1.5 KiB", "5.0 GiB"]
