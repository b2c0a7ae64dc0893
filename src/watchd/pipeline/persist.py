"""PersistStage: commits every write the earlier stages queued, in one transaction."""

from __future__ import annotations

from watchd.pipeline import Batch
from watchd.runtime import faults
from watchd.store import Store


class PersistStage:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def exec(self, batch: Batch) -> Batch:
        if batch.writes:
            with self.store.transaction() as db:
                for write in batch.writes:
                    write(db)
                if batch.effects:
                    faults.point("persist.before_commit")
            if batch.effects:
                faults.point("persist.after_commit")
            batch.writes.clear()
        return batch
