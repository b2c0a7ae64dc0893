"""PublishStage: hands each committed batch to the current MQTT publisher, if there is one.

The publisher is looked up per batch because a reload may replace the bus (or remove it). Publishing
only enqueues into a bounded buffer: this stage never waits for the network and never raises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from watchd.pipeline import Batch


class Publisher(Protocol):
    def publish(self, batch: Batch) -> None: ...


class PublishStage:
    def __init__(self, publisher: Callable[[], Publisher | None]) -> None:
        self._publisher = publisher

    async def exec(self, batch: Batch) -> Batch:
        publisher = self._publisher()
        if publisher is not None:
            publisher.publish(batch)
        return batch
