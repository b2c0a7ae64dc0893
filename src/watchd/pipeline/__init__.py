"""The result pipeline: small stages with one async method, composed in order by `build`:

    StateStage -> IncidentStage -> PersistStage -> PublishStage -> ForwardStage -> KickStage -> LogStage
    -> LastResultsStage

One stage per module. A stage gets a Batch and returns it. Stages before PersistStage add writes to
the batch; PersistStage commits them in one SQLite transaction, so a state change and every effect
it causes are stored together or not at all. May import `core`, `store`, `delivery` and `runtime`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from watchd.core.model import CheckResult, CheckStatus, Incident, StateChange

Write = Callable[[sqlite3.Connection], None]


@dataclass(slots=True)
class Event:
    """One result on its way through the pipeline; stages fill in what they learn."""

    result: CheckResult
    previous: CheckStatus | None = None
    status: CheckStatus | None = None
    changes: Sequence[StateChange] = ()


@dataclass(slots=True)
class Batch:
    events: list[Event]
    now: float  # wall time read once for the whole batch
    writes: list[Write] = field(default_factory=list)
    effects: int = 0  # outbox rows queued by this batch (the deliverer is kicked after commit)
    incidents: list[tuple[str, Incident]] = field(default_factory=list)  # (action, incident) decided


class Stage(Protocol):
    async def exec(self, batch: Batch) -> Batch: ...


class Pipeline:
    """Runs stages in order. Every stage sees every batch, also one with only writes or incident
    decisions (a resolved incident of a removed check must still reach the bus and the deliverer);
    stages are cheap on empty batches."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = tuple(stages)

    async def exec(self, batch: Batch) -> Batch:
        for stage in self.stages:
            batch = await stage.exec(batch)
        return batch
