"""Per-second rates from cumulative counters, shared by `disk_io` and `net`.

Pure: the tracker is fed (monotonic time, counters) by its sampler and keeps the previous sample.
The first sample only sets the baseline, so there is no rate to report yet: the check says "collecting
baseline" with no perfdata rather than a fake zero. A counter that went backwards (device re-created,
driver reset, 32-bit wrap) rebases that device for one interval instead of producing a negative rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from watchd.core.model import State
from watchd.plugin import worst
from watchd.sources.verdict import Figure, Verdict

Counters = Mapping[str, Mapping[str, float]]  # device -> counter name -> cumulative value

BASELINE_TEXT = "collecting baseline (first sample), rates follow from the next run"


@dataclass(frozen=True, slots=True)
class Rates:
    per_s: dict[str, dict[str, float]]  # device -> counter name -> per second
    interval_s: float
    new: tuple[str, ...] = ()  # devices seen for the first time: baseline only
    reset: tuple[str, ...] = ()  # devices whose counters went backwards: rebased


class RateTracker:
    def __init__(self) -> None:
        self._prev: dict[str, dict[str, float]] | None = None
        self._at: float = 0.0

    def update(self, at: float, counters: Counters) -> Rates | None:
        """Rates since the previous sample; None for the first one (or if no time has passed)."""
        current = {dev: dict(values) for dev, values in counters.items()}
        prev, prev_at = self._prev, self._at
        if prev is not None and at <= prev_at:
            return None  # keep the older baseline: a zero interval cannot give a rate
        self._prev, self._at = current, at
        if prev is None:
            return None
        dt = at - prev_at
        per_s: dict[str, dict[str, float]] = {}
        new: list[str] = []
        reset: list[str] = []
        for dev, values in current.items():
            before = prev.get(dev)
            if before is None:
                new.append(dev)
                continue
            deltas = {k: v - before.get(k, v) for k, v in values.items()}
            if any(d < 0 for d in deltas.values()):
                reset.append(dev)
                continue
            per_s[dev] = {k: d / dt for k, d in deltas.items()}
        return Rates(per_s, dt, tuple(new), tuple(reset))


@dataclass(frozen=True, slots=True)
class DeviceFigures:
    device: str
    figures: list[Figure]
    ok_text: str  # this device in an all-OK summary


def judge_devices(
    devices: Sequence[DeviceFigures], rates: Rates, missing: Sequence[str], noun: str
) -> Verdict:
    """Worst state over every device's figures; devices without a rate this time are UNKNOWN only if
    they were asked for by name (`missing`), otherwise noted in the long output."""
    perf = []
    states: list[State] = []
    faults: list[str] = []
    lines: list[str] = []
    for d in devices:
        for f in d.figures:
            perf.append(f.perf)
            states.append(f.state)
            if f.state is not State.OK:
                faults.append(f.problem_text())
        lines.append(d.ok_text)
    for dev in missing:
        states.append(State.UNKNOWN)
        faults.append(f"{noun} {dev} not found")
    lines += [f"{dev}: new {noun}, baseline only" for dev in rates.new]
    lines += [f"{dev}: counters went backwards, rebased" for dev in rates.reset]
    if faults:
        text = ", ".join(faults)
    elif devices:
        text = ", ".join(d.ok_text for d in devices)
    else:
        text = f"no {noun}s to check"
    lines.append(f"interval {rates.interval_s:.1f} s")
    return Verdict(worst(*states), text, tuple(perf), "\n".join(lines))


def baseline() -> Verdict:
    return Verdict(State.OK, BASELINE_TEXT)


def per_s(value: float, uom: str) -> str:
    """Rates in a summary: 1.2 MiB/s, 35 /s."""
    if uom == "B":
        for unit in ("B", "KiB", "MiB", "GiB"):
            if value < 1024 or unit == "GiB":
                return f"{value:.0f} B/s" if unit == "B" else f"{value:.1f} {unit}/s"
            value /= 1024
    return f"{value:.1f}/s"
