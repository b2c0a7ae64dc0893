"""LastResultsStage: keeps the latest CheckResult of every check in memory (perfdata for the API
and /metrics; the store keeps statuses and state changes, not every result)."""

from __future__ import annotations

from collections.abc import Iterable

from watchd.core.model import CheckResult
from watchd.pipeline import Batch


class LastResultsStage:
    def __init__(self) -> None:
        self.results: dict[str, CheckResult] = {}

    async def exec(self, batch: Batch) -> Batch:
        for event in batch.events:
            self.results[event.result.check] = event.result
        return batch

    def forget(self, checks: Iterable[str]) -> None:
        for name in checks:
            self.results.pop(name, None)
