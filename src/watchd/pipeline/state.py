"""StateStage: applies each result to the check's status with the pure state machine."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from watchd.core import state
from watchd.core.model import CheckStatus, StateChange
from watchd.core.state import StatePolicy
from watchd.pipeline import Batch, Write
from watchd.store import Store


class StateStage:
    """Owns the current statuses in memory. Significant changes are written with the batch at once;
    a status that only moved its last-check time is written behind, in bulk (see take_dirty)."""

    def __init__(self, statuses: dict[str, CheckStatus], policy_for: Callable[[str], StatePolicy]) -> None:
        self.statuses = statuses
        self._policy_for = policy_for
        self._dirty: dict[str, CheckStatus] = {}

    async def exec(self, batch: Batch) -> Batch:
        for event in batch.events:
            name = event.result.check
            known = self.statuses.get(name)
            prev = known or CheckStatus(name)
            new, changes = state.step(prev, event.result, batch.now, self._policy_for(name))
            self.statuses[name] = new
            event.previous, event.status, event.changes = prev, new, changes
            if known is None or changes or state.significant(prev, new):
                self._dirty.pop(name, None)
                batch.writes.append(_writer(new, changes))
            else:
                self._dirty[name] = new
        return batch

    def take_dirty(self) -> list[CheckStatus]:
        dirty, self._dirty = list(self._dirty.values()), {}
        return dirty

    def forget(self, names: set[str]) -> None:
        for name in names:
            self.statuses.pop(name, None)
            self._dirty.pop(name, None)


def _writer(status: CheckStatus, changes: list[StateChange]) -> Write:
    def write(db: sqlite3.Connection) -> None:
        Store.write(db, [status], changes)

    return write
