"""`cpu`: busy percentage and its split (user, system, iowait, steal) between two runs.

psutil.cpu_times() counters are cumulative, so a percentage needs two samples: each run uses the sample
kept from the previous run. The first run (and a run so soon after the last one that the counters hardly
moved) takes its own pair 0.2 s apart, on the sampling thread, so that no result is a fake zero.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil

from watchd.nagios.range import Thresholds
from watchd.sources import BuildContext, register
from watchd.sources.params import Params
from watchd.sources.resources.base import Sampler
from watchd.sources.verdict import Figure, Verdict, judge

PRIME_INTERVAL_S = 0.2
MIN_DELTA_S = 0.05  # CPU-seconds (summed over cores) below which percentages are mostly rounding

Times = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class CpuFigures:
    busy: float
    user: float  # user + nice
    system: float  # system + irq + softirq, as vmstat counts "sy"
    iowait: float
    steal: float


@dataclass(frozen=True, slots=True)
class CpuThresholds:
    busy: Thresholds = field(default_factory=Thresholds)
    iowait: Thresholds = field(default_factory=Thresholds)
    steal: Thresholds = field(default_factory=Thresholds)


def cpu_percentages(before: Times, after: Times) -> CpuFigures | None:
    """Percentages of all CPU time between two samples; None if too little time passed to tell."""
    delta = {k: max(0.0, after[k] - before.get(k, 0.0)) for k in after}
    # Linux already counts guest time inside user and nice: adding it again would count it twice.
    total = sum(v for k, v in delta.items() if k not in ("guest", "guest_nice"))
    if total < MIN_DELTA_S:
        return None

    def pct(*keys: str) -> float:
        return 100.0 * sum(delta.get(k, 0.0) for k in keys) / total

    return CpuFigures(
        busy=100.0 - pct("idle", "iowait"),
        user=pct("user", "nice"),
        system=pct("system", "irq", "softirq"),
        iowait=pct("iowait"),
        steal=pct("steal"),
    )


def evaluate_cpu(f: CpuFigures, t: CpuThresholds) -> Verdict:
    figures = [
        Figure("busy", f.busy, f"busy {f.busy:.1f}%", "%", t.busy, 0, 100),
        Figure("user", f.user, f"user {f.user:.1f}%", "%", Thresholds(), 0, 100),
        Figure("system", f.system, f"system {f.system:.1f}%", "%", Thresholds(), 0, 100),
        Figure("iowait", f.iowait, f"iowait {f.iowait:.1f}%", "%", t.iowait, 0, 100),
        Figure("steal", f.steal, f"steal {f.steal:.1f}%", "%", t.steal, 0, 100),
    ]
    ok = (
        f"busy {f.busy:.1f}% (user {f.user:.1f}%, system {f.system:.1f}%, "
        f"iowait {f.iowait:.1f}%, steal {f.steal:.1f}%)"
    )
    return judge(figures, ok)


def _read_times() -> dict[str, float]:
    return dict(psutil.cpu_times()._asdict())


class CpuSampler(Sampler):
    kind = "CPU"
    what = "CPU times"

    def __init__(self, name: str, thresholds: CpuThresholds, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.thresholds = thresholds
        self._last: dict[str, float] | None = None

    def _collect(self) -> CpuFigures:
        """Runs on the sampling thread, so the priming pause blocks nothing."""
        now = _read_times()
        figures = None if self._last is None else cpu_percentages(self._last, now)
        if figures is None:
            time.sleep(PRIME_INTERVAL_S)
            before, now = now, _read_times()
            figures = cpu_percentages(before, now)
        self._last = now
        if figures is None:
            raise RuntimeError("CPU counters did not advance")
        return figures

    async def sample(self, timeout: float) -> Verdict:
        figures = await self.offloader.call(f"cpu:{self.name}", self._collect, timeout, "CPU times")
        return evaluate_cpu(figures, self.thresholds)


@register("cpu")
def build_cpu(name: str, params: Mapping[str, Any], ctx: BuildContext) -> CpuSampler:
    p = Params(params)
    thresholds = CpuThresholds(
        busy=p.thresholds("warning", "critical"),
        iowait=p.thresholds("iowait_warning", "iowait_critical"),
        steal=p.thresholds("steal_warning", "steal_critical"),
    )
    p.done()
    return CpuSampler(name, thresholds)
