"""The Mirror: keeps this host's retained snapshots at the broker in step with its store.

A console that (re)starts rebuilds the fleet from retained messages alone, so the broker must hold,
per host, a snapshot of every open incident (`incident/<id>`) and the maintenance picture
(`maintenance`); see bus.snapshots for what they say.

How it stays cheap: nothing happens per check result. It syncs (reads the open incidents and the
maintenance picture, compares each snapshot with what it last queued, queues what changed) when
kicked, at most every `interval` (0.5 s), kicks coalescing meanwhile:

- by the BatchPublisher, for a committed batch that decided about incidents or queued deliveries;
- by the daemon, after an ack or resolve through the API or MQTT, a downtime, a reload;
- by the outbox, when a delivery is done or has failed;
- by itself: when the store's data_version says another process (the CLI) wrote (polled every
  `poll`, 1 s: one PRAGMA), when a maintenance window starts or ends, and every `sweep` (30 s) as the
  safety net for anything else (an ack applied from a ticket system, a suppression lifted).

A resolved incident is published once, not retained (the resolved snapshot), and then its retained
topic is cleared (an empty retained message), so only open incidents stay at the broker. Snapshots are
queued into the OfflineBuffer as coalescing states (`incident:<id>`, `maintenance`): only the newest
of each goes out after an outage, and the pipeline never waits.

After every (re)connect, `republish` queues every current snapshot again (a broker without
persistence, or a cluster node with its own retained store, has forgotten them), and the retained
incident snapshots the broker hands back on subscribing are checked against the store (`seen_retained`):
one whose incident is no longer open (resolved while this daemon was down, or its clear was lost
with a kill -9) is cleared.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable

import structlog

from watchd.bus import snapshots
from watchd.bus.buffer import Kind, Message, OfflineBuffer
from watchd.bus.topics import Topics
from watchd.core.clock import Clock

log = structlog.get_logger("watchd.bus")

INTERVAL = 0.5  # at most one sync per this many seconds; kicks in between coalesce
POLL = 1.0  # how often the store's data_version is looked at (writes by other processes)
SWEEP = 30.0  # a full sync at least this often, whatever was (not) kicked
HORIZON = 14 * 86400.0  # maintenance windows starting within this are listed
MAINTENANCE_KEY = "maintenance"


class Mirror:
    def __init__(
        self,
        topics: Topics,
        buffer: OfflineBuffer,
        wake: Callable[[], None],
        source: snapshots.SnapshotSource,
        clock: Clock,
        *,
        interval: float = INTERVAL,
        poll: float = POLL,
        sweep: float = SWEEP,
        horizon: float = HORIZON,
    ) -> None:
        self.topics = topics
        self.buffer = buffer
        self._wake = wake
        self.source = source
        self.clock = clock
        self.interval, self.poll, self.sweep, self.horizon = interval, poll, sweep, horizon
        self._open: dict[int, bytes] = {}  # the retained snapshot last queued per open incident
        self._touched: set[int] = set()  # incidents the pipeline decided about since the last sync
        self._stale: set[int] = set()  # incidents the broker holds a retained snapshot of
        self._maintenance: dict[str, object] | None = None  # the maintenance doc last queued (no `at`)
        self._maintenance_payload: bytes | None = None
        self._boundary: float | None = None  # wall time a window next starts or ends
        self._version: int | None = None
        self._pending = True  # a sync is due (the first one at once)
        self._kicked = asyncio.Event()
        self.syncs = 0
        self.errors = 0

    # -- triggers (cheap, never raise) ----------------------------------------------------------

    def kick(self) -> None:
        """Something may have changed: sync soon (coalesced)."""
        self._pending = True
        self._kicked.set()

    def touched(self, incident_ids: Iterable[int]) -> None:
        """The pipeline decided about these incidents (a resolved one is published once more)."""
        self._touched.update(incident_ids)
        self.kick()

    def seen_retained(self, incident_id: int) -> None:
        """The broker holds a retained snapshot of this incident (handed over on subscribe)."""
        self._stale.add(incident_id)
        self.kick()

    def republish(self) -> None:
        """A new connection: queue every current snapshot again (unless it is still queued)."""
        for incident_id, body in self._open.items():
            self._retain(self.topics.incident(incident_id), body, f"incident:{incident_id}", again=True)
        if self._maintenance_payload is not None:
            self._retain(self.topics.maintenance, self._maintenance_payload, MAINTENANCE_KEY, again=True)
        self._wake()

    # -- the loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + self.sweep
        next_poll = loop.time() + self.poll
        last = float("-inf")
        while True:
            if not self._pending:
                await self._idle(min(next_sweep, next_poll, self._boundary_at(loop.time())) - loop.time())
            now = loop.time()
            if now >= next_poll:
                next_poll = now + self.poll
                self._poll_version()
            if now >= next_sweep or self._boundary_at(now) <= now:
                self._pending = True
            if not self._pending:
                continue
            if now < last + self.interval:  # coalesce: whatever comes meanwhile is in this sync
                await asyncio.sleep(last + self.interval - now)
            last = loop.time()
            next_sweep = last + self.sweep
            self.sync_safely()

    async def _idle(self, timeout: float) -> None:
        self._kicked.clear()
        if self._pending:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._kicked.wait(), max(timeout, 0.01))

    def _boundary_at(self, loop_now: float) -> float:
        """The loop time of the next window boundary (inf if none)."""
        if self._boundary is None:
            return float("inf")
        return loop_now + max(self._boundary - self.clock.time(), 0.0)

    def _poll_version(self) -> None:
        try:
            version = self.source.version()
        except Exception:
            log.exception("mirror: reading the store's data version failed")
            return
        if version != self._version:
            self._version = version
            self._pending = True

    def sync_safely(self) -> None:
        """`sync`, logged and counted instead of raised: the mirror is best effort."""
        try:
            self.sync()
        except Exception:
            self.errors += 1
            self._boundary = None  # do not spin on a boundary that a failing sync cannot move
            log.exception("mirror: sync failed; the next kick or sweep retries")

    # -- one sync -------------------------------------------------------------------------------

    def sync(self) -> None:
        """Queue every snapshot that differs from what was last queued, and the resolutions."""
        self._pending = False
        self._version = self.source.version()  # read first: a write after it is seen by the poll
        self.syncs += 1
        now = self.clock.time()
        queued = False
        current = {view.incident.id: view for view in self.source.open_incidents()}
        for incident_id, view in current.items():
            body = snapshots.incident_payload(view)
            if self._open.get(incident_id) != body:
                self._retain(self.topics.incident(incident_id), body, f"incident:{incident_id}")
                self._open[incident_id] = body
                queued = True
        for incident_id in sorted((self._open.keys() | self._touched | self._stale) - current.keys()):
            queued |= self._resolved(incident_id)
        self._touched.clear()
        self._stale.clear()
        queued |= self._sync_maintenance(now)
        if queued:
            self._wake()

    def _resolved(self, incident_id: int) -> bool:
        """An incident that is not open (any more): its final snapshot once, then clear the topic."""
        final = self.source.incident(incident_id)
        if final is not None and final.incident.is_open:
            return False  # open but not listed (beyond the source's limit): leave it alone
        topic = self.topics.incident(incident_id)
        if final is not None:
            self.buffer.put(Message(topic, snapshots.incident_payload(final), 1, False, Kind.EVENT))
        self._retain(topic, b"", f"incident:{incident_id}")
        self._open.pop(incident_id, None)
        return True

    def _sync_maintenance(self, now: float) -> bool:
        view = self.source.maintenance(now, now + self.horizon)
        self._boundary = snapshots.next_boundary(view, now)
        doc = snapshots.maintenance_doc(self.topics.host, view, now, self.horizon)
        if doc == self._maintenance:
            return False
        self._maintenance = doc
        self._maintenance_payload = snapshots.maintenance_payload(doc, now)
        self._retain(self.topics.maintenance, self._maintenance_payload, MAINTENANCE_KEY)
        return True

    def _retain(self, topic: str, body: bytes, key: str, again: bool = False) -> None:
        if again and self.buffer.holds(key):
            return  # the queued one is the newest there is
        self.buffer.put(Message(topic, body, 1, True, Kind.STATE, key=key))
