"""Reliable delivery of external effects (tickets now, notifications later).

An effect is an outbox row written in the same SQLite transaction as the incident change that
caused it (`enqueue`). The Deliverer sends rows in id order per (incident, channel), retries
retryable failures with exponential backoff and jitter, survives restarts (rows are only marked
done after the backend accepted them), and raises an alert through a callback when a channel keeps
failing or a row fails for good. Backends make the retry after a crash harmless (see tickets/).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from watchd.core.backoff import backoff
from watchd.core.clock import Clock
from watchd.core.errors import DeliveryError
from watchd.runtime import faults
from watchd.store import Store

log = structlog.get_logger("watchd.outbox")

POLL_INTERVAL = 5.0
STOP_GRACE = 5.0  # on shutdown, how long a delivery in progress may take before it is cancelled


class Deliverable(Protocol):
    """A channel: a ticket backend or a notifier. `deliver(payload, op_id, ref) -> ref`."""

    async def deliver_row(self, kind: str, payload: dict[str, Any], op_id: int, ref: str | None) -> str: ...


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    incident_id: int
    channel: str
    kind: str
    payload: dict[str, Any]
    created_at: float
    attempts: int


def enqueue(
    db: sqlite3.Connection, incident_id: int, channel: str, kind: str, payload: dict[str, Any], now: float
) -> int:
    cur = db.execute(
        "INSERT INTO outbox (incident_id, channel, kind, payload, created_at, next_attempt)"
        " VALUES (?,?,?,?,?,?)",
        (incident_id, channel, kind, json.dumps(payload), now, now),
    )
    return int(cur.lastrowid or 0)


def due_rows(db: sqlite3.Connection, now: float, limit: int = 100) -> list[Row]:
    """The first pending row of each (incident, channel) whose next attempt is due: strict order per queue."""
    rows = db.execute(
        "SELECT o.id, o.incident_id, o.channel, o.kind, o.payload, o.created_at, o.attempts FROM outbox o"
        f" WHERE {_HEAD} AND o.next_attempt <= ? ORDER BY o.id LIMIT ?",
        (now, limit),
    ).fetchall()
    return [Row(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]


_HEAD = (
    "o.status = 'pending' AND o.id = (SELECT min(p.id) FROM outbox p"
    " WHERE p.status = 'pending' AND p.incident_id = o.incident_id AND p.channel = o.channel)"
)


def next_attempt_at(db: sqlite3.Connection) -> float | None:
    """When the next queue head is due. Rows behind a head that is backing off do not count: their
    own next_attempt is in the past, and counting it would make the deliverer spin for the whole
    outage."""
    row = db.execute(f"SELECT min(o.next_attempt) FROM outbox o WHERE {_HEAD}").fetchone()
    return row[0] if row else None


def backlog(db: sqlite3.Connection) -> dict[str, int]:
    """Pending rows per channel."""
    rows = db.execute("SELECT channel, count(*) FROM outbox WHERE status = 'pending' GROUP BY channel")
    return {r[0]: r[1] for r in rows}


def ticket_ref(db: sqlite3.Connection, incident_id: int, channel: str) -> str | None:
    row = db.execute(
        "SELECT ref FROM ticket_refs WHERE incident_id = ? AND channel = ?", (incident_id, channel)
    ).fetchone()
    return row[0] if row else None



@dataclass(slots=True)
class ChannelHealth:
    failing_since: float | None = None  # created_at of the oldest row that has failed at least once
    alerted: bool = False
    permanent: bool = False  # a row failed for good; cleared by the channel's next success
    last_error: str = ""


AlertCallback = Callable[[str, bool, str], None]  # (channel, failing?, text)
SettledCallback = Callable[[int], None]  # (incident id): one of its rows is done or failed for good


class Deliverer:
    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Deliverable],
        clock: Clock,
        rng: random.Random | None = None,
        base_backoff: float = 2.0,
        max_backoff: float = 300.0,
        alert_after: float = 300.0,
        concurrency: int = 4,
        on_alert: AlertCallback | None = None,
        on_settled: SettledCallback | None = None,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.clock = clock
        self.rng = rng or random.Random()
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.alert_after = alert_after
        self.concurrency = concurrency
        self.on_alert = on_alert
        self.on_settled = on_settled
        self.health: dict[str, ChannelHealth] = {}
        self.delivered = 0
        self.failures = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def kick(self) -> None:
        """New rows were committed: look now instead of at the next planned attempt."""
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Finish the delivery in progress (bounded by the backends' own timeouts) and stop.

        A flag, not only cancel(): on Python 3.11 a cancel that lands as a wait completes can be
        swallowed, and the loop would go on forever."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            async with asyncio.timeout(STOP_GRACE):
                await asyncio.shield(self._task)
        except TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:
                log.exception("outbox pass failed; retrying")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._idle_time()):
                    await self._wake.wait()

    def _idle_time(self) -> float:
        nxt = next_attempt_at(self.store.db)
        # Also poll now and then: `watchd incidents ack` writes rows from another process.
        if nxt is None:
            return POLL_INTERVAL
        return min(max(nxt - self.clock.time(), 0.0), POLL_INTERVAL)

    async def run_once(self) -> int:
        """Deliver every due row once (rows of one queue strictly in order); returns rows handled."""
        handled = 0
        sem = asyncio.Semaphore(self.concurrency)
        while True:
            rows = due_rows(self.store.db, self.clock.time())
            if not rows:
                break
            results = await asyncio.gather(*(self._deliver_bounded(r, sem) for r in rows))
            handled += len(rows)
            if not any(results):  # no queue moved on: the rest waits for its backoff
                break
        self._check_health()
        return handled

    async def _deliver_bounded(self, row: Row, sem: asyncio.Semaphore) -> bool:
        async with sem:
            return await self._deliver(row)

    async def _deliver(self, row: Row) -> bool:
        """Try one row; True if it left the pending state (done or failed), so its queue moved on."""
        channel = self.channels.get(row.channel)
        now = self.clock.time()
        if channel is None:
            self._fail(row, f"channel {row.channel!r} is not configured any more", now)
            return True
        ref = ticket_ref(self.store.db, row.incident_id, row.channel)
        faults.point(f"outbox.before_deliver.{row.kind}")
        try:
            new_ref = await channel.deliver_row(row.kind, row.payload, row.id, ref)
        except DeliveryError as exc:
            if exc.retryable:
                self._retry(row, exc.reason, exc.retry_after)
                return False
            self._fail(row, exc.reason, self.clock.time())
            return True
        except Exception as exc:  # a backend bug must not stop delivery of everything else
            log.exception("delivery raised", channel=row.channel, row=row.id)
            self._retry(row, f"internal error: {exc!r}")
            return False
        faults.point(f"outbox.after_deliver.{row.kind}")  # the backend has it; the row is not marked done
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET status = 'done', done_at = ? WHERE id = ?", (self.clock.time(), row.id)
            )
            db.execute(
                "INSERT OR REPLACE INTO ticket_refs (incident_id, channel, ref) VALUES (?,?,?)",
                (row.incident_id, row.channel, new_ref),
            )
        self.delivered += 1
        if row.channel in self.health:
            self.health[row.channel].permanent = False
        self._settled(row)
        log.info(
            "delivered", channel=row.channel, kind=row.kind, incident=row.incident_id, row=row.id, ref=new_ref
        )
        return True

    def _retry(self, row: Row, reason: str, retry_after: float | None = None) -> None:
        self.failures += 1
        attempts = row.attempts + 1
        delay = backoff(attempts - 1, self.base_backoff, self.max_backoff, self.rng)
        if retry_after is not None:  # the far side said when (429/503 Retry-After): not sooner
            delay = max(delay, retry_after)
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?",
                (attempts, self.clock.time() + delay, reason, row.id),
            )
        h = self.health.setdefault(row.channel, ChannelHealth())
        h.failing_since = row.created_at if h.failing_since is None else min(h.failing_since, row.created_at)
        h.last_error = reason
        log.warning("delivery failed; will retry", channel=row.channel, row=row.id, attempts=attempts,
                    retry_in=round(delay, 1), error=reason)  # fmt: skip

    def _fail(self, row: Row, reason: str, now: float) -> None:
        self.failures += 1
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?, done_at = ?"
                " WHERE id = ?",
                (reason, now, row.id),
            )
        log.error("delivery failed permanently", channel=row.channel, row=row.id, kind=row.kind, error=reason)
        self._settled(row)
        h = self.health.setdefault(row.channel, ChannelHealth())
        h.permanent, h.last_error = True, reason
        if not h.alerted and self.on_alert is not None:
            h.alerted = True
            self.on_alert(row.channel, True, f"{row.kind} for incident {row.incident_id} failed: {reason}")

    def _settled(self, row: Row) -> None:
        """Tell the callback (the bus mirror: the incident's snapshot lists its deliveries)."""
        if self.on_settled is None:
            return
        try:
            self.on_settled(row.incident_id)
        except Exception:  # the row is marked; whoever listens must not undo that
            log.exception("on_settled callback failed", row=row.id)

    def _check_health(self) -> None:
        """Raise one alert when a channel has been failing for alert_after; clear it when it recovers."""
        pending_failing = {
            r[0]: r[1]
            for r in self.store.db.execute(
                "SELECT channel, min(created_at) FROM outbox WHERE status = 'pending' AND attempts > 0"
                " GROUP BY channel"
            )
        }
        now = self.clock.time()
        for channel, h in list(self.health.items()):
            since = pending_failing.get(channel)
            if since is None and h.permanent:
                continue
            if since is None:
                if h.alerted and self.on_alert is not None:
                    self.on_alert(channel, False, "delivery recovered")
                del self.health[channel]
                continue
            h.failing_since = since
            if not h.alerted and now - since >= self.alert_after:
                h.alerted = True
                log.error("delivery failing", channel=channel, since=since, error=h.last_error)
                if self.on_alert is not None:
                    self.on_alert(channel, True, f"delivery failing since {_iso(since)}: {h.last_error}")


def _iso(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
