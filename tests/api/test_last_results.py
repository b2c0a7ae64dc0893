"""LastResultsStage keeps the newest result per check and passes the batch on unchanged."""

from __future__ import annotations

from watchd.core.model import CheckResult, State
from watchd.pipeline import Batch, Event
from watchd.pipeline.last_results import LastResultsStage


async def test_keeps_the_latest_result_per_check() -> None:
    """A later result replaces an earlier one; other checks keep theirs; forget drops them."""
    stage = LastResultsStage()
    first = CheckResult("a", State.OK, "one")
    batch = Batch([Event(first), Event(CheckResult("b", State.CRITICAL, "b"))], 0.0)
    assert await stage.exec(batch) is batch
    second = CheckResult("a", State.WARNING, "two")
    await stage.exec(Batch([Event(second)], 1.0))
    assert stage.results["a"] is second
    assert stage.results["b"].summary == "b"
    stage.forget(["b", "never"])
    assert set(stage.results) == {"a"}
