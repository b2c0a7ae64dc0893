"""ForwardStage: hands every committed result to the current forwarders (an Icinga 2 beside watchd).

The forwarders are looked up per batch because a reload may add, replace or remove them. A forwarder
only enqueues into its own bounded backlog: this stage never waits for the network, and one forwarder
that raises does not keep the result from the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import structlog

from watchd.core.model import CheckResult
from watchd.pipeline import Batch

log = structlog.get_logger("watchd.pipeline")


class Forwarder(Protocol):
    def forward(self, result: CheckResult) -> None: ...


class ForwardStage:
    def __init__(self, forwarders: Callable[[], Sequence[Forwarder]]) -> None:
        self._forwarders = forwarders

    async def exec(self, batch: Batch) -> Batch:
        forwarders = self._forwarders()
        if forwarders and batch.events:
            for event in batch.events:
                for f in forwarders:
                    try:
                        f.forward(event.result)
                    except Exception:  # a forwarder's bug must not break the pipeline
                        log.exception("forwarder raised", check=event.result.check)
        return batch
