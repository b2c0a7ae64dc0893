"""Plugin output and exit status, interpreted as Nagios Core 4 does (base/checks.c parse_check_output and
get_service_check_return_code, base/workers.c):

SUMMARY | PERFDATA
LONG OUTPUT LINE 1
LONG OUTPUT LINE N | PERFDATA LINE 2
PERFDATA LINE 3

Only the first `|` of a line splits it; once a long-output line had one, every later line is perfdata.
tests/test_nagios_compat.py holds the table, each row as Nagios 4.4 itself read it.
"""

from __future__ import annotations

import re
import signal as _signal
from dataclasses import dataclass

from watchd.core.model import PerfDatum, State
from watchd.nagios.perfdata import read_perfdata

NO_OUTPUT = "(No output returned from plugin)"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class ParsedOutput:
    summary: str
    long_output: str
    perfdata: tuple[PerfDatum, ...]
    perfdata_errors: int  # malformed items: skipped, or kept without an unreadable field
    perfdata_reason: str | None = None  # what was malformed, quoted, for the result's reason


def decode(raw: bytes) -> str:
    """Lenient decoding: invalid UTF-8 and control characters become U+FFFD, never an error."""
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return _CONTROL.sub("\ufffd", text)


def parse_output(text: str) -> ParsedOutput:
    lines = text.rstrip("\n").split("\n") if text.strip() else []
    if not lines:
        return ParsedOutput(NO_OUTPUT, "", (), 0)
    summary, _, perf = lines[0].partition("|")
    perf_parts = [perf]
    long_lines: list[str] = []
    in_perf = False
    for line in lines[1:]:
        if in_perf:
            perf_parts.append(line)
        elif "|" in line:
            text_part, _, perf_part = line.partition("|")
            if text_part.strip():
                long_lines.append(text_part.rstrip())
            perf_parts.append(perf_part)
            in_perf = True
        else:
            long_lines.append(line.rstrip())
    reading = read_perfdata(" ".join(perf_parts))
    summary = summary.strip() or NO_OUTPUT
    long_output = "\n".join(long_lines).strip("\n")
    return ParsedOutput(summary, long_output, reading.items, reading.errors, reading.reason())


@dataclass(frozen=True, slots=True)
class ExitVerdict:
    state: State
    reason: str | None


def verdict_for_exit(exit_code: int | None, signal: int | None) -> ExitVerdict:
    """The state for a plugin's exit status, as Nagios Core 4 gives it.

    0..3 are the states; any other exit code is CRITICAL with a reason (126 = not executable, 127 = not
    found, as a shell reports them). Death by a signal is UNKNOWN: Nagios' worker reports a return code of
    3 when the plugin did not exit (base/workers.c: `WIFEXITED` false).
    """
    if signal is not None:
        name = _signal_name(signal)
        return ExitVerdict(State.UNKNOWN, f"plugin killed by signal {signal} ({name})")
    assert exit_code is not None
    if 0 <= exit_code <= 3:
        return ExitVerdict(State(exit_code), None)
    hint = {126: " - plugin may not be executable", 127: " - plugin may be missing"}.get(exit_code, "")
    return ExitVerdict(State.CRITICAL, f"return code of {exit_code} is out of bounds{hint}")


def _signal_name(signum: int) -> str:
    try:
        return _signal.Signals(signum).name
    except ValueError:
        return "unknown signal"
