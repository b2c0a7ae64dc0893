"""LogStage: every result at debug (not even built unless debug is on: this is the hot path), every
state change at info (problems at warning)."""

from __future__ import annotations

import structlog

from watchd.core.model import ChangeKind
from watchd.pipeline import Batch
from watchd.runtime.logs import debug_enabled

log = structlog.get_logger("watchd.checks")

_PROBLEMS = {ChangeKind.HARD_PROBLEM, ChangeKind.HARD_CHANGE, ChangeKind.FLAPPING_START}


class LogStage:
    async def exec(self, batch: Batch) -> Batch:
        debug = debug_enabled()
        for event in batch.events:
            r = event.result
            if debug:
                log.debug(
                    "check result",
                    check=r.check,
                    state=r.state.name,
                    summary=r.summary,
                    duration_s=round(r.duration_s, 4),
                    reason=r.reason,
                )
            for change in event.changes:
                method = log.warning if change.kind in _PROBLEMS and change.state.is_problem else log.info
                method(
                    "state change",
                    check=change.check,
                    kind=change.kind.value,
                    previous=change.previous.name,
                    state=change.state.name,
                    state_type=change.state_type.value,
                    attempt=change.attempt,
                    summary=r.summary,
                    reason=r.reason,
                )
        return batch
