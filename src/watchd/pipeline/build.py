"""The one place the result pipeline is assembled (DESIGN.md's pipeline, in order):

    StateStage -> IncidentStage -> PersistStage -> PublishStage -> ForwardStage -> KickStage -> LogStage
    -> LastResultsStage

Everything before PersistStage adds writes to the batch; PersistStage commits them in one
transaction; everything after it sees committed state only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from watchd.core.incidents import CheckIncidentPolicy
from watchd.core.state import StatePolicy
from watchd.delivery.outbox import Deliverer
from watchd.pipeline import Pipeline
from watchd.pipeline.forward import Forwarder, ForwardStage
from watchd.pipeline.incidents import IncidentStage, Pager, Route
from watchd.pipeline.kick import KickStage
from watchd.pipeline.last_results import LastResultsStage
from watchd.pipeline.log import LogStage
from watchd.pipeline.persist import PersistStage
from watchd.pipeline.publish import Publisher, PublishStage
from watchd.pipeline.state import StateStage
from watchd.store import Store


class Policies(Protocol):
    """Per-check policy, read from the current config at each use (daemon.routing.Routing)."""

    def state_policy(self, name: str) -> StatePolicy: ...

    def incident_policy(self, name: str) -> CheckIncidentPolicy | None: ...

    def route(self, name: str) -> Route: ...

    def suppression(self, name: str, now: float) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Parts:
    """What build_pipeline() makes; the daemon keeps references for flushing and inspection."""

    pipeline: Pipeline
    state: StateStage
    incidents: IncidentStage
    deliverer: Deliverer
    last_results: LastResultsStage


def build_pipeline(
    store: Store,
    policies: Policies,
    deliverer: Deliverer,
    publisher: Callable[[], Publisher | None],
    forwarders: Callable[[], Sequence[Forwarder]] = lambda: (),
    pager: Pager | None = None,
) -> Parts:
    """`deliverer` is the outbox deliverer the KickStage wakes after a commit that queued effects;
    `publisher()` is the current bus's publisher (None without MQTT; a reload may swap the bus);
    `forwarders()` are the current result forwarders (Icinga 2; empty without any); `pager` pages
    the on-call people of a newly opened incident (daemon.paging)."""
    state_stage = StateStage(store.load_statuses(), policies.state_policy)
    incident_stage = IncidentStage(
        store, policies.incident_policy, policies.route, policies.suppression, pager
    )
    last_results = LastResultsStage()
    pipeline = Pipeline(
        [
            state_stage,
            incident_stage,
            PersistStage(store),
            PublishStage(publisher),
            ForwardStage(forwarders),
            KickStage(deliverer.kick),
            LogStage(),
            last_results,
        ]
    )
    return Parts(pipeline, state_stage, incident_stage, deliverer, last_results)
