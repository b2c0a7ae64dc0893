"""Threshold ranges per the Nagios plugin development guidelines.

10      alert if x < 0 or x > 10
10:     alert if x < 10
~:10    alert if x > 10
10:20   alert if x < 10 or x > 20
@10:20  alert if 10 <= x <= 20
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from watchd.core.model import State

_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")


def _number(text: str, spec: str) -> float:
    if not _NUMBER.match(text):
        raise ValueError(f"invalid range {spec!r}: {text!r} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"invalid range {spec!r}: {text!r} overflows a float")
    return value


@dataclass(frozen=True, slots=True)
class Range:
    start: float = 0.0
    end: float = math.inf
    inside: bool = False  # '@': alert when the value is inside [start, end]
    text: str = ""

    @classmethod
    def parse(cls, text: str | int | float) -> Range:
        """Parse a range; ValueError quoting the text and saying why if it is not one the guidelines define
        (empty, a lone `:`, start above end, not a number)."""
        spec = str(text).strip()
        inside = spec.startswith("@")
        body = spec[1:] if inside else spec
        if not body:
            raise ValueError(f"invalid range {spec!r}: empty")
        low, colon, high = body.partition(":")
        if not colon:
            low, high = "", body  # "N" is "0:N"
        elif ":" in high:
            raise ValueError(f"invalid range {spec!r}: more than one ':'")
        elif not low and not high:
            hint = '"0:" alerts below 0, "~:" never alerts'
            raise ValueError(f"invalid range {spec!r}: a lone ':' is not a range ({hint})")
        start = -math.inf if low == "~" else (_number(low, spec) if low else 0.0)
        end = _number(high, spec) if high else math.inf
        if start > end:
            # As monitoring-plugins' parse_range_string: "-5" is 0:-5, so it is rejected too.
            raise ValueError(f"invalid range {spec!r}: start {low or '0'} lies above end {high}")
        return cls(start, end, inside, spec)

    def alert(self, value: float) -> bool:
        """True when `value` should raise an alert under this range."""
        within = self.start <= value <= self.end
        return within if self.inside else not within

    def __str__(self) -> str:
        return self.text or self._render()

    def _render(self) -> str:
        start = "~" if self.start == -math.inf else f"{self.start:g}"
        end = "" if self.end == math.inf else f"{self.end:g}"
        prefix = "@" if self.inside else ""
        if self.start == 0 and end:
            return f"{prefix}{end}"
        return f"{prefix}{start}:{end}"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A warning and a critical range; either may be absent."""

    warn: Range | None = None
    crit: Range | None = None

    def __init__(
        self, warn: Range | str | float | None = None, crit: Range | str | float | None = None
    ) -> None:
        object.__setattr__(self, "warn", _as_range(warn))
        object.__setattr__(self, "crit", _as_range(crit))

    def evaluate(self, value: float) -> State:
        if self.crit is not None and self.crit.alert(value):
            return State.CRITICAL
        if self.warn is not None and self.warn.alert(value):
            return State.WARNING
        return State.OK

    def state(self, value: float) -> str:
        """ "OK", "WARNING" or "CRITICAL"; critical is tested first."""
        return self.evaluate(value).name


def _as_range(value: Range | str | float | None) -> Range | None:
    if value is None or isinstance(value, Range):
        return value
    if isinstance(value, str) and not value.strip():
        return None
    return Range.parse(value)
