"""IncidentStage: turns hard state changes into incident decisions and queues their effects.

The incident rows and the outbox rows land in the batch's transaction, with the state change that
caused them (PersistStage commits it). The store is the source of truth for open incidents, so an
ack or a manual resolve made by another process is seen; state changes are rare, so the indexed
lookup per change costs nothing that matters.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace

import structlog

from watchd import effects, incident_store
from watchd.incidents import Action, CheckIncidentPolicy, Decision, decide
from watchd.model import CheckResult, Incident, IncidentStatus, State
from watchd.pipeline import Batch
from watchd.store import Store

log = structlog.get_logger("watchd.incidents")

_MISSING = object()


class IncidentStage:
    def __init__(
        self,
        store: Store,
        policy_for: Callable[[str], CheckIncidentPolicy | None],
        channels_for: Callable[[str], Sequence[str]],
    ) -> None:
        self.store = store
        self._policy_for = policy_for
        self._channels_for = channels_for
        self._next_id = incident_store.next_id(store.db)
        self.decisions = 0

    async def exec(self, batch: Batch) -> Batch:
        overlay: dict[str, Incident | None] = {}  # decisions earlier in this batch, not yet written
        for event in batch.events:
            for change in event.changes:
                policy = self._policy_for(change.check)
                if policy is None:
                    continue
                current = overlay.get(change.check, _MISSING)
                if current is _MISSING:
                    current = incident_store.open_incident(self.store.db, change.check)
                last = None
                if current is None and policy.reopen_within > 0:
                    last = incident_store.last_resolved(self.store.db, change.check)
                decision = decide(current, last, change, policy, batch.now)  # type: ignore[arg-type]
                if decision.action is Action.NONE or decision.incident is None:
                    continue
                incident = decision.incident
                if decision.action is Action.OPEN:
                    incident = replace(incident, id=self._next_id)
                    self._next_id += 1
                overlay[change.check] = incident if incident.is_open else None
                self._queue(batch, decision, incident, change.result)
        return batch

    def resolve_removed(self, batch: Batch, checks: set[str], why: str) -> None:
        """A check left the configuration: its open incident resolves, and its tickets are told."""
        for check in sorted(checks):
            current = incident_store.open_incident(self.store.db, check)
            if current is None:
                continue
            resolved = replace(
                current, status=IncidentStatus.RESOLVED, updated_at=batch.now, resolved_at=batch.now
            )
            self._queue(batch, Decision(Action.RESOLVE, resolved, why), resolved, None)

    def _queue(self, batch: Batch, decision: Decision, inc: Incident, result: CheckResult | None) -> None:
        self.decisions += 1
        action = decision.action.value
        channels = [f"ticket:{name}" for name in self._channels_for(inc.check)]
        payload = effects.ticket_payload(
            inc, action, decision.reason, result, batch.now, decision.priority_raised
        )

        def write(db: sqlite3.Connection) -> None:
            effects.record(db, inc, action, decision.reason, channels, payload, batch.now)

        batch.writes.append(write)
        batch.effects += len(channels)
        batch.incidents.append((action, inc))
        log.info(
            "incident " + action, incident=inc.id, check=inc.check, priority=inc.priority,
            state=inc.state.name, why=decision.reason, channels=channels,
        )  # fmt: skip


def alert_result(check: str, failing: bool, text: str, now: float) -> CheckResult:
    """A synthetic result for watchd's own problems (a ticket channel failing), fed through the
    normal pipeline so that it becomes an incident in the fallback channels."""
    return CheckResult(check, State.CRITICAL if failing else State.OK, text, started_at=now)
