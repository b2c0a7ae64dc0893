"""BatchPublisher: puts each batch's results, state changes and incident decisions on the bus.

The pipeline's PublishStage (after PersistStage, so only what was committed is published) hands it
each batch. It only enqueues into the bounded OfflineBuffer and wakes the sender: it never waits for
the network and never raises.

- every result -> `check/<c>/result` (result_qos, not retained; dropped first when the buffer is full)
- a state change, or the first result of a check since start -> `check/<c>/state` (QoS 1, retained,
  coalesced per check: after an outage only the newest state per check is sent); `republish` queues
  every check's last state again after a reconnect (the broker may have lost its retained store)
- incidents: with a mirror (the daemon's bus), a batch that decided about incidents or queued
  deliveries only tells the mirror, which publishes the retained snapshots (bus.mirror); without one,
  every (action, incident) -> `incident/<id>` (QoS 1, not retained)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import structlog

from watchd.bus import payloads
from watchd.bus.buffer import Kind, Message, OfflineBuffer
from watchd.bus.topics import Topics
from watchd.pipeline import Batch

log = structlog.get_logger("watchd.bus")


class BatchPublisher:
    def __init__(
        self,
        topics: Topics,
        buffer: OfflineBuffer,
        result_qos: int,
        wake: Callable[[], None],
        incidents: Callable[[Iterable[int]], None] | None = None,
    ) -> None:
        """`incidents(ids)`, when given, is told about the incidents of a batch instead of publishing
        their lifecycle events (the mirror's `touched`)."""
        self.topics = topics
        self.buffer = buffer
        self.result_qos = result_qos
        self._wake = wake
        self._incidents = incidents
        self._states: dict[str, bytes] = {}  # the state last queued per check since start
        self.errors = 0

    def publish(self, batch: Batch) -> None:
        try:
            self._enqueue(batch)
        except Exception:  # publishing is best effort: never let it break the pipeline
            self.errors += 1
            log.exception("bus: could not enqueue a batch")

    def _enqueue(self, batch: Batch) -> None:
        host, t, put = self.topics.host, self.topics, self.buffer.put
        queued = False
        for event in batch.events:
            r = event.result
            body = payloads.check_result(host, r)
            put(Message(t.result(r.check), body, self.result_qos, False, Kind.RESULT))
            status = event.status
            if status is not None and (event.changes or r.check not in self._states):
                state = payloads.check_state(host, status, batch.now)
                self._states[r.check] = state
                put(Message(t.state(r.check), state, 1, True, Kind.STATE, key=f"state:{r.check}"))
            queued = True
        if self._incidents is not None:
            if batch.incidents or batch.effects:
                self._incidents([inc.id for _, inc in batch.incidents])
        else:
            for action, inc in batch.incidents:
                put(Message(t.incident(inc.id), payloads.incident(action, inc), 1, False, Kind.EVENT))
                queued = True
        if queued:
            self._wake()

    def republish(self) -> None:
        """A new connection: queue each check's last state again, unless it is still queued."""
        for check, state in self._states.items():
            key = f"state:{check}"
            if not self.buffer.holds(key):
                self.buffer.put(Message(self.topics.state(check), state, 1, True, Kind.STATE, key=key))
        if self._states:
            self._wake()

    def forget(self, checks: set[str]) -> None:
        """Checks removed from the configuration: clear their retained state (an empty retained
        message deletes it at the broker)."""
        for check in sorted(checks):
            self._states.pop(check, None)
            self.buffer.put(Message(self.topics.state(check), b"", 1, True, Kind.STATE, key=f"state:{check}"))
        if checks:
            self._wake()
