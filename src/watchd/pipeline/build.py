"""The one place the result pipeline is assembled (DESIGN.md's pipeline, in order):

    StateStage -> IncidentStage -> PersistStage -> PublishStage -> KickStage -> LogStage -> LastResultsStage

Everything before PersistStage adds writes to the batch; PersistStage commits them in one
transaction; everything after it sees committed state only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from watchd.config import Config
from watchd.core.clock import Clock
from watchd.core.incidents import CheckIncidentPolicy
from watchd.core.state import StatePolicy
from watchd.delivery.channels import build_channels
from watchd.delivery.outbox import Deliverer
from watchd.pipeline import Pipeline
from watchd.pipeline.incidents import IncidentStage, Route
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


class Bus(Protocol):
    """The MQTT side the pipeline needs (watchd.bus.Bus): its batch publisher, and notifications
    for contacts with `mqtt: true`."""

    @property
    def publisher(self) -> Publisher: ...

    def notify(self, contact: str, body: bytes) -> None: ...


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
    config: Config,
    policies: Policies,
    clock: Clock,
    bus: Callable[[], Bus | None],
    on_alert: Callable[[str, bool, str], None],
) -> Parts:
    """`bus()` is the current bus (None without MQTT; a reload may swap it); `on_alert(channel,
    failing, text)` is told when an outbox channel keeps failing or recovers."""
    state_stage = StateStage(store.load_statuses(), policies.state_policy)
    incident_stage = IncidentStage(store, policies.incident_policy, policies.route, policies.suppression)
    deliverer = Deliverer(
        store,
        build_channels(config, store, clock, bus),
        clock,
        base_backoff=config.tickets.base_backoff,
        max_backoff=config.tickets.max_backoff,
        alert_after=config.tickets.alert_after,
        on_alert=on_alert,
    )
    last_results = LastResultsStage()
    pipeline = Pipeline(
        [
            state_stage,
            incident_stage,
            PersistStage(store),
            PublishStage(lambda: None if (b := bus()) is None else b.publisher),
            KickStage(deliverer.kick),
            LogStage(),
            last_results,
        ]
    )
    return Parts(pipeline, state_stage, incident_stage, deliverer, last_results)
