"""`memory` (used %, available bytes) and `swap` (used %, used bytes).

"Used" memory is `total - available` (MemAvailable: what can be allocated without swapping, page cache
included), the figure `free` and psutil report, not `total - free`, which counts the page cache as used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psutil

from watchd.nagios.range import Thresholds
from watchd.sources import BuildContext, register
from watchd.sources.params import Params
from watchd.sources.resources.base import Sampler
from watchd.sources.verdict import Figure, Verdict, human_bytes, judge


@dataclass(frozen=True, slots=True)
class MemoryFigures:
    total: int
    available: int

    @property
    def used_pct(self) -> float:
        return 100.0 * (self.total - self.available) / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class SwapFigures:
    total: int
    used: int

    @property
    def used_pct(self) -> float:
        return 100.0 * self.used / self.total if self.total else 0.0


def evaluate_memory(f: MemoryFigures, used: Thresholds, available: Thresholds) -> Verdict:
    figures = [
        Figure("used_pct", f.used_pct, f"{f.used_pct:.1f}% used", "%", used, 0, 100),
        Figure("available", f.available, f"{human_bytes(f.available)} available", "B", available, 0, f.total),
    ]
    ok = f"{f.used_pct:.1f}% used, {human_bytes(f.available)} of {human_bytes(f.total)} available"
    return judge(figures, ok)


def evaluate_swap(f: SwapFigures, used: Thresholds) -> Verdict:
    if not f.total:
        # No swap: 0% of nothing is in use. The labels stay the same so graphs do not break.
        perf = (
            Figure("used_pct", 0.0, "", "%", used, 0, 100).perf,
            Figure("used", 0, "", "B", Thresholds(), 0, 0).perf,
        )
        return Verdict(used.evaluate(0.0), "no swap configured", perf)
    figures = [
        Figure("used_pct", f.used_pct, f"swap {f.used_pct:.1f}% used", "%", used, 0, 100),
        Figure("used", f.used, f"{human_bytes(f.used)} used", "B", Thresholds(), 0, f.total),
    ]
    return judge(figures, f"{f.used_pct:.1f}% used ({human_bytes(f.used)} of {human_bytes(f.total)})")


def _read_memory() -> MemoryFigures:
    vm = psutil.virtual_memory()
    return MemoryFigures(total=vm.total, available=vm.available)


def _read_swap() -> SwapFigures:
    sw = psutil.swap_memory()
    return SwapFigures(total=sw.total, used=sw.used)


class MemorySampler(Sampler):
    kind = "MEMORY"
    what = "memory usage"

    def __init__(self, name: str, used: Thresholds, available: Thresholds, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.used, self.available = used, available

    async def sample(self, timeout: float) -> Verdict:
        figures = await self.offloader.call(f"memory:{self.name}", _read_memory, timeout, "memory usage")
        return evaluate_memory(figures, self.used, self.available)


class SwapSampler(Sampler):
    kind = "SWAP"
    what = "swap usage"

    def __init__(self, name: str, used: Thresholds, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.used = used

    async def sample(self, timeout: float) -> Verdict:
        figures = await self.offloader.call(f"swap:{self.name}", _read_swap, timeout, "swap usage")
        return evaluate_swap(figures, self.used)


@register("memory")
def build_memory(name: str, params: Mapping[str, Any], ctx: BuildContext) -> MemorySampler:
    p = Params(params)
    used = p.thresholds("warning", "critical")
    available = p.thresholds("available_warning", "available_critical")
    p.done()
    return MemorySampler(name, used, available)


@register("swap")
def build_swap(name: str, params: Mapping[str, Any], ctx: BuildContext) -> SwapSampler:
    p = Params(params)
    used = p.thresholds("warning", "critical")
    p.done()
    return SwapSampler(name, used)
