"""From figures to a Nagios-style result: the pure half shared by every built-in check.

A collector gathers numbers (I/O); an evaluator turns them into a `Verdict` (pure); `finish` stamps the
verdict with the check name, type label and timing to make the `CheckResult`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from watchd.core.model import CheckResult, PerfDatum, State
from watchd.nagios.range import Range, Thresholds
from watchd.plugin import worst


@dataclass(frozen=True, slots=True)
class Verdict:
    """State and words of one run, before timing and naming are added."""

    state: State
    text: str
    perfdata: tuple[PerfDatum, ...] = ()
    long_output: str = ""
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured value with its thresholds; `text` is how the summary names it (`/var 91.2% used`)."""

    label: str
    value: float
    text: str
    uom: str = ""
    thresholds: Thresholds = field(default_factory=Thresholds)
    min: float | None = None
    max: float | None = None

    @property
    def state(self) -> State:
        return self.thresholds.evaluate(self.value)

    @property
    def perf(self) -> PerfDatum:
        t = self.thresholds
        return PerfDatum(
            self.label, _clean(self.value), self.uom, _spec(t.warn), _spec(t.crit), self.min, self.max
        )

    def problem_text(self) -> str:
        """`/var 91.2% used (critical 90)`: the figure and the range it broke."""
        state = self.state
        broken = self.thresholds.crit if state is State.CRITICAL else self.thresholds.warn
        return f"{self.text} ({state.name.lower()} {broken})"


def judge(figures: Iterable[Figure], ok_text: str, extra: Iterable[State] = ()) -> Verdict:
    """The worst state of the figures; the summary lists the figures at fault, or `ok_text` if none."""
    figs = list(figures)
    state = worst(*(f.state for f in figs), *extra)
    faults = [f.problem_text() for f in figs if f.state is not State.OK]
    text = ", ".join(faults) if faults else ok_text
    return Verdict(state, text, tuple(f.perf for f in figs))


def finish(check: str, kind: str, verdict: Verdict, started_at: float, duration_s: float) -> CheckResult:
    """`KIND STATE - text`, as Nagios plugins print it; `|` would start perfdata, so it is replaced."""
    summary = f"{kind} {verdict.state.name} - {verdict.text}".replace("|", "/")
    return CheckResult(
        check=check,
        state=verdict.state,
        summary=summary,
        long_output=verdict.long_output.replace("|", "/"),
        perfdata=verdict.perfdata,
        duration_s=max(duration_s, 0.0),
        reason=verdict.reason,
        started_at=started_at,
    )


def human_bytes(n: float) -> str:
    """Binary units, as `free -h` and `df -h` print them: 512 B, 3.2 KiB, 1.5 GiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def seconds(s: float) -> str:
    """Durations in a summary: `0.012 s`, `3.4 s`."""
    return f"{s:.3f} s" if s < 1 else f"{s:.1f} s"


def _spec(r: Range | None) -> str | None:
    return None if r is None else str(r)


def _clean(value: float) -> float:
    """Perfdata values rounded to 6 significant decimals: stable text, no float noise."""
    return round(value, 6)


def budget(timeout: float) -> float:
    """The time a source may spend: the check timeout less a small margin to build the result, so the
    source answers with its own "timed out" result before a caller's outer timeout cancels it."""
    return max(0.0, timeout - min(0.1, timeout * 0.1))
