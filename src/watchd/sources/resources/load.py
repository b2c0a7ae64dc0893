"""`load`: the 1, 5 and 15 minute load averages, optionally divided by the number of CPUs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psutil

from watchd.nagios.range import Range, Thresholds
from watchd.sources import BuildContext, register
from watchd.sources.params import Params
from watchd.sources.resources.base import Sampler
from watchd.sources.verdict import Figure, Verdict, judge

WINDOWS = ("load1", "load5", "load15")


@dataclass(frozen=True, slots=True)
class LoadFigures:
    load1: float
    load5: float
    load15: float
    cpus: int


def evaluate_load(
    f: LoadFigures, thresholds: tuple[Thresholds, Thresholds, Thresholds], per_core: bool
) -> Verdict:
    values: tuple[float, ...] = (f.load1, f.load5, f.load15)
    if per_core:
        values = tuple(v / max(f.cpus, 1) for v in values)
    suffix = " per core" if per_core else ""
    figures = [
        Figure(label, value, f"{label} {value:.2f}{suffix}", "", t, 0)
        for label, value, t in zip(WINDOWS, values, thresholds, strict=True)
    ]
    ok = f"load average{suffix}: {values[0]:.2f}, {values[1]:.2f}, {values[2]:.2f} ({f.cpus} CPUs)"
    return judge(figures, ok)


def _read() -> LoadFigures:
    one, five, fifteen = os.getloadavg()
    return LoadFigures(one, five, fifteen, psutil.cpu_count(logical=True) or 1)


class LoadSampler(Sampler):
    kind = "LOAD"
    what = "load average"

    def __init__(
        self, name: str, thresholds: tuple[Thresholds, Thresholds, Thresholds], per_core: bool, **kw: Any
    ) -> None:
        super().__init__(name, **kw)
        self.thresholds = thresholds
        self.per_core = per_core

    async def sample(self, timeout: float) -> Verdict:
        figures = await self.offloader.call(f"load:{self.name}", _read, timeout, "load average")
        return evaluate_load(figures, self.thresholds, self.per_core)


def _triple(p: Params, key: str) -> tuple[Range | None, Range | None, Range | None]:
    """One range for all three windows, or a list of three (as check_load's `-w 15,10,5`)."""
    raw = p.raw(key)
    if isinstance(raw, list | tuple):
        if len(raw) != 3:
            raise p.error(key, f"expected one range or a list of three (1, 5, 15 min), got {len(raw)} items")
        ranges = [Params({f"{key}[{i}]": item}).nagios_range(f"{key}[{i}]") for i, item in enumerate(raw)]
        return ranges[0], ranges[1], ranges[2]
    one = Params({key: raw}).nagios_range(key)
    return one, one, one


@register("load")
def build_load(name: str, params: Mapping[str, Any], ctx: BuildContext) -> LoadSampler:
    p = Params(params)
    warn, crit = _triple(p, "warning"), _triple(p, "critical")
    per_core = p.flag("per_core", False)
    p.done()
    thresholds = (Thresholds(warn[0], crit[0]), Thresholds(warn[1], crit[1]), Thresholds(warn[2], crit[2]))
    return LoadSampler(name, thresholds, per_core)
