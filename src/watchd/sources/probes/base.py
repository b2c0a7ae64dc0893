"""The run() every probe shares: a time budget, never raise, and one result shape."""

from __future__ import annotations

from watchd.core.clock import Clock
from watchd.core.model import CheckResult, State
from watchd.runtime.clock import SystemClock
from watchd.sources.verdict import Verdict, budget, finish


class Probe:
    """Subclasses set `kind`, return their own timeout from `own_timeout()` (None: the check's) and
    write `probe(limit, t0)`, which words every failure it expects; anything else becomes UNKNOWN."""

    kind = "PROBE"

    def __init__(self, name: str, *, clock: Clock | None = None) -> None:
        self.name = name
        self.clock: Clock = clock or SystemClock()

    def own_timeout(self) -> float | None:
        return None

    async def probe(self, limit: float, t0: float) -> Verdict:
        raise NotImplementedError

    async def run(self, timeout: float) -> CheckResult:
        started, t0 = self.clock.time(), self.clock.monotonic()
        limit = budget(min(timeout, self.own_timeout() or timeout))
        try:
            verdict = await self.probe(limit, t0)
        except Exception as exc:  # never raise out of run(): an unforeseen error is still a result
            verdict = Verdict(State.UNKNOWN, f"probe error: {exc!r}", reason=repr(exc))
        return finish(self.name, self.kind, verdict, started, self.clock.monotonic() - t0)
