"""The run() every resource sampler shares: sample off-loop, evaluate, finish; never raise."""

from __future__ import annotations

from watchd.clock import Clock, SystemClock
from watchd.model import CheckResult, State
from watchd.sources.resources import offload
from watchd.sources.resources.offload import Offloader, OffloadError
from watchd.sources.resources.verdict import Verdict, budget, finish


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
