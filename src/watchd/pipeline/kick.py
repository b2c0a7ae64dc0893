"""KickStage: after a commit that queued effects, wake the outbox deliverer at once."""

from __future__ import annotations

from collections.abc import Callable

from watchd.pipeline import Batch


class KickStage:
    def __init__(self, kick: Callable[[], None]) -> None:
        self._kick = kick

    async def exec(self, batch: Batch) -> Batch:
        if batch.effects:
            self._kick()
        return batch
