"""Plugin output and exit status as Nagios Core 4 reads them."""

import signal

import pytest

from watchd.core.model import State
from watchd.nagios.output import NO_OUTPUT, decode, parse_output, verdict_for_exit


def test_summary_perfdata_and_long_output() -> None:
    """First line is summary | perfdata; long output lines follow; a '|' there starts more perfdata."""
    out = parse_output(
        "DISK OK - free space | root=10GB;;;0;20\n/ 50% used\n/boot 10% used | boot=1GB\nhome=5GB\n"
    )
    assert out.summary == "DISK OK - free space"
    assert out.long_output == "/ 50% used\n/boot 10% used"
    assert [p.label for p in out.perfdata] == ["root", "boot", "home"]
    assert out.perfdata_errors == 0


@pytest.mark.parametrize("text", ["", "\n\n", "   \n"], ids=["empty", "newlines", "blank"])
def test_empty_output_gets_explicit_summary(text: str) -> None:
    """No output is reported as such, not as an empty summary."""
    assert parse_output(text).summary == NO_OUTPUT


def test_decode_is_lenient() -> None:
    """Invalid UTF-8 and control bytes become U+FFFD instead of raising."""
    text = decode(b"OK \xff\xfe\x00 caf\xc3\xa9\r\nline\x07")
    assert text == "OK \ufffd\ufffd\ufffd café\nline\ufffd"


@pytest.mark.parametrize(
    ("code", "sig", "state", "reason"),
    [
        (0, None, State.OK, None),
        (1, None, State.WARNING, None),
        (2, None, State.CRITICAL, None),
        (3, None, State.UNKNOWN, None),
        (4, None, State.CRITICAL, "return code of 4 is out of bounds"),
        (126, None, State.CRITICAL, "may not be executable"),
        (127, None, State.CRITICAL, "may be missing"),
        (255, None, State.CRITICAL, "return code of 255"),
        (None, signal.SIGKILL, State.UNKNOWN, "killed by signal 9 (SIGKILL)"),
        (None, signal.SIGSEGV, State.UNKNOWN, "SIGSEGV"),
        (None, 99, State.UNKNOWN, "killed by signal 99 (unknown signal)"),
    ],
    ids=["0", "1", "2", "3", "4", "126", "127", "255", "sigkill", "sigsegv", "unnamed-signal"],
)
def test_exit_verdicts(code: int | None, sig: int | None, state: State, reason: str | None) -> None:
    """Exit codes 0..3 are the states; any other code is CRITICAL and a signal UNKNOWN, with a reason,
    as Nagios Core 4 does."""
    verdict = verdict_for_exit(code, sig)
    assert verdict.state is state
    if reason is None:
        assert verdict.reason is None
    else:
        assert reason in (verdict.reason or "")
