"""Helpers for people who write Nagios plugins, in Python (our own `checks/` use this).

    from watchd.plugin import Plugin, Thresholds

    plugin = Plugin("BACKUP")
    age = 5.2
    state = plugin.add_metric("age", age, "s", Thresholds(warn="86400", crit="172800"), min=0)
    plugin.exit(state, f"newest backup is {age:.0f}s old")

prints `BACKUP OK - newest backup is 5s old | age=5.2s;86400;172800;0` and exits 0.

The kit: this module, `cli` (Nagios-style argument errors) and `lib` (the pure logic of the bundled
plugins in checks/). Standard library plus `core` and `nagios` only: plugins run under Nagios too.
"""

from __future__ import annotations

import sys
from typing import NoReturn, TextIO

from watchd.core.model import PerfDatum, State
from watchd.nagios.output import parse_output
from watchd.nagios.perfdata import (
    PerfdataReading,
    format_perfdatum,
    parse_perfdata,
    parse_perfdata_counted,
    read_perfdata,
)
from watchd.nagios.range import Range, Thresholds

__all__ = [
    "PerfDatum",
    "PerfdataReading",
    "Plugin",
    "Range",
    "State",
    "Thresholds",
    "format_perfdatum",
    "parse_output",
    "parse_perfdata",
    "parse_perfdata_counted",
    "read_perfdata",
    "worst",
]


def worst(*states: State) -> State:
    """The most severe state: CRITICAL > WARNING > UNKNOWN > OK (as nagiosplugin orders them)."""
    order = {State.OK: 0, State.UNKNOWN: 1, State.WARNING: 2, State.CRITICAL: 3}
    return max(states, key=order.__getitem__, default=State.OK)


class Plugin:
    """Collects perfdata and long output, then prints one well-formed result and exits."""

    def __init__(self, name: str, out: TextIO | None = None) -> None:
        self.name = name
        self.perfdata: list[PerfDatum] = []
        self.long_output: list[str] = []
        self._out = out

    def add_metric(
        self,
        label: str,
        value: float | None,
        uom: str = "",
        thresholds: Thresholds | None = None,
        min: float | None = None,
        max: float | None = None,
    ) -> State:
        """Record a perfdata item; return its state under the thresholds (OK without)."""
        t = thresholds or Thresholds()
        self.perfdata.append(PerfDatum(label, value, uom, _text(t.warn), _text(t.crit), min, max))
        return State.OK if value is None else t.evaluate(value)

    def add_line(self, line: str) -> None:
        self.long_output.append(line)

    def render(self, state: State, summary: str) -> str:
        text = f"{self.name} {state.name} - {summary.replace('|', '/')}"
        if self.perfdata:
            text += " | " + " ".join(format_perfdatum(p) for p in self.perfdata)
        if self.long_output:
            text += "\n" + "\n".join(line.replace("|", "/") for line in self.long_output)
        return text

    def exit(self, state: State, summary: str) -> NoReturn:
        out = self._out or sys.stdout
        print(self.render(state, summary), file=out)
        out.flush()
        raise SystemExit(int(state))

    def unknown(self, summary: str) -> NoReturn:
        """Exit UNKNOWN, for errors that prevent the check itself (bad arguments, unreadable input)."""
        self.perfdata.clear()
        self.exit(State.UNKNOWN, summary)


def _text(r: Range | None) -> str | None:
    return None if r is None else str(r)
