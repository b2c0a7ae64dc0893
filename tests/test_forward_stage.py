"""ForwardStage: every committed result reaches every current forwarder, and a broken one harms nobody."""

from __future__ import annotations

from watchd.core.model import CheckResult, State
from watchd.pipeline import Batch, Event
from watchd.pipeline.forward import Forwarder, ForwardStage


class Recorder:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def forward(self, result: CheckResult) -> None:
        self.seen.append(result.check)


class Broken:
    def forward(self, result: CheckResult) -> None:
        raise RuntimeError("bug")


async def test_every_result_to_every_forwarder() -> None:
    """Both results reach the recorder even though the forwarder before it raises; the batch passes on."""
    recorder = Recorder()
    current: list[Forwarder] = [Broken(), recorder]
    stage = ForwardStage(lambda: current)
    batch = Batch([Event(CheckResult("a", State.OK, "A")), Event(CheckResult("b", State.CRITICAL, "B"))], 0.0)
    assert await stage.exec(batch) is batch
    assert recorder.seen == ["a", "b"]
    current.clear()  # the forwarders are looked up per batch: a reload may remove them
    await stage.exec(batch)
    assert recorder.seen == ["a", "b"]
