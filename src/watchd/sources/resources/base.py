"""The run() every resource sampler shares: sample off-loop, evaluate, finish; never raise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watchd.core.clock import Clock
from watchd.core.model import CheckResult, State
from watchd.runtime.clock import SystemClock
from watchd.sources.resources import offload
from watchd.sources.resources.offload import Offloader, OffloadError
from watchd.sources.resources.rates import Counters, DeviceFigures, RateTracker, baseline, judge_devices
from watchd.sources.verdict import Verdict, budget, finish


class Sampler:
    """Subclasses set `kind` (the summary prefix) and `what` (for error texts) and write `sample()`."""

    kind = "RESOURCE"
    what = "system data"

    def __init__(self, name: str, *, offloader: Offloader | None = None, clock: Clock | None = None) -> None:
        self.name = name
        self.offloader = offloader or offload.DEFAULT
        self.clock: Clock = clock or SystemClock()

    async def sample(self, timeout: float) -> Verdict:
        raise NotImplementedError

    async def run(self, timeout: float) -> CheckResult:
        started, t0 = self.clock.time(), self.clock.monotonic()
        try:
            verdict = await self.sample(budget(timeout))
        except OffloadError as exc:
            verdict = Verdict(State.UNKNOWN, str(exc), reason=str(exc))
        except Exception as exc:  # a sampler that cannot read its data is UNKNOWN, never a crash
            reason = f"cannot read {self.what}: {exc or type(exc).__name__}"
            verdict = Verdict(State.UNKNOWN, reason, reason=reason)
        return finish(self.name, self.kind, verdict, started, self.clock.monotonic() - t0)


class RateSampler(Sampler):
    """Samples monotonic counters per device (disks, interfaces) and judges their rates between runs.

    Subclasses give `noun` ("device", "interface"), `read_counters(names)` (blocking, run off-loop;
    all real ones when `names` is empty) and `figures(name, rates)`."""

    noun = "device"

    def __init__(self, name: str, names: tuple[str, ...], thresholds: Any, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.names = names
        self.thresholds = thresholds
        self.tracker = RateTracker()

    def read_counters(self, names: tuple[str, ...]) -> Counters:
        raise NotImplementedError

    def figures(self, name: str, rates: Mapping[str, float]) -> DeviceFigures:
        raise NotImplementedError

    def _collect(self) -> tuple[float, Counters]:
        return self.clock.monotonic(), self.read_counters(self.names)

    async def sample(self, timeout: float) -> Verdict:
        key = f"{self.kind.lower()}:{self.name}"
        at, counters = await self.offloader.call(key, self._collect, timeout, self.what)
        rates = self.tracker.update(at, counters)
        if rates is None:
            return baseline()
        items = [self.figures(n, r) for n, r in sorted(rates.per_s.items())]
        missing = [n for n in self.names if n not in counters]
        return judge_devices(items, rates, missing, self.noun)
