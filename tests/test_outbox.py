"""The outbox: order per queue, backoff with an injected clock, permanent failures, health alerts."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from watchd.core.backoff import backoff
from watchd.core.clock import FakeClock
from watchd.core.errors import DeliveryError
from watchd.delivery import outbox
from watchd.delivery.outbox import Deliverer
from watchd.delivery.tickets import TicketIntent
from watchd.delivery.tickets.builtin import BuiltinBackend
from watchd.delivery.tickets.channel import TicketChannel
from watchd.store import Store


class ScriptedChannel:
    """A channel whose outcomes the test scripts: a list of exceptions/None consumed per call."""

    def __init__(self, outcomes: list[BaseException | None] | None = None) -> None:
        self.outcomes = list(outcomes or [])
        self.calls: list[tuple[str, int, str | None]] = []

    async def deliver_row(self, kind: str, payload: dict[str, Any], op_id: int, ref: str | None) -> str:
        self.calls.append((kind, op_id, ref))
        if self.outcomes:
            outcome = self.outcomes.pop(0)
            if outcome is not None:
                raise outcome
        return f"T-{payload['incident']}"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(str(tmp_path / "w.db"))
    yield s
    s.close()


def put(store: Store, incident: int, kind: str, channel: str = "ticket:x", now: float = 0.0) -> int:
    with store.transaction() as db:
        return outbox.enqueue(db, incident, channel, kind, {"incident": incident}, now)


def statuses(store: Store) -> list[tuple[int, str, int]]:
    return list(store.db.execute("SELECT id, status, attempts FROM outbox ORDER BY id"))


async def test_rows_go_in_order_per_incident_and_channel(store: Store) -> None:
    """open, update, resolve of one incident go strictly in order; the ref from open is passed on."""
    clock = FakeClock(0.0)
    ch = ScriptedChannel()
    ids = [put(store, 1, k) for k in ("open", "update", "resolve")] + [put(store, 2, "open")]
    d = Deliverer(store, {"ticket:x": ch}, clock, rng=random.Random(1))
    assert await d.run_once() == 4
    by_incident = [c for c in ch.calls if c[0] != "open" or c[1] == ids[0]]
    assert [c[0] for c in ch.calls if c[1] in ids[:3]] == ["open", "update", "resolve"]
    assert by_incident[1][2] == "T-1"  # update got the ref the open returned
    assert all(s == "done" for _, s, _ in statuses(store))


async def test_retry_backoff_then_success(store: Store) -> None:
    """A retryable failure waits its backoff (not earlier) and blocks later rows of the same queue only."""
    clock = FakeClock(0.0)
    ch = ScriptedChannel([DeliveryError("503 from backend"), None, None, None])
    first = put(store, 1, "open")
    put(store, 1, "resolve")
    put(store, 2, "open")
    d = Deliverer(store, {"ticket:x": ch}, clock, rng=random.Random(7), base_backoff=10, max_backoff=100)
    await d.run_once()
    assert statuses(store) == [(first, "pending", 1), (first + 1, "pending", 0), (first + 2, "done", 0)]
    wait = backoff(0, 10, 100, random.Random(7))  # the first retry
    assert 5 <= wait <= 10
    clock.advance(wait - 0.01)
    await d.run_once()
    assert statuses(store)[0] == (first, "pending", 1)  # not due yet
    clock.advance(0.02)
    await d.run_once()
    assert [s for _, s, _ in statuses(store)] == ["done", "done", "done"]
    assert [c[0] for c in ch.calls] == ["open", "open", "open", "resolve"]


def test_backoff_grows_and_is_capped() -> None:
    """Delays double per retry, stay within [delay/2, delay], and never exceed the cap."""
    rng = random.Random(3)
    for retry, full in ((0, 2), (1, 4), (2, 8), (9, 300), (49, 300), (10**9, 300)):
        d = backoff(retry, 2, 300, rng)
        assert full / 2 <= d <= full


async def test_permanent_failure_is_surfaced_not_retried(store: Store) -> None:
    """A non-retryable error fails the row and raises an alert; later rows still go, and the channel's
    next success clears the alert (the failed row stays visible in `watchd incidents show`)."""
    clock = FakeClock(0.0)
    alerts: list[tuple[str, bool, str]] = []
    ch = ScriptedChannel([DeliveryError("400 bad request", retryable=False)])
    put(store, 1, "update")
    put(store, 1, "resolve")
    d = Deliverer(store, {"ticket:x": ch}, clock, on_alert=lambda *a: alerts.append(a))
    await d.run_once()
    assert [s for _, s, _ in statuses(store)] == ["failed", "done"]
    assert [a[:2] for a in alerts] == [("ticket:x", True), ("ticket:x", False)]
    assert "400 bad request" in alerts[0][2]


async def test_failing_channel_alerts_after_a_while_and_clears(store: Store) -> None:
    """A channel failing for alert_after raises one alert; its recovery clears it."""
    clock = FakeClock(0.0)
    alerts: list[tuple[str, bool, str]] = []
    ch = ScriptedChannel([DeliveryError("connection refused")] * 20)
    put(store, 1, "open")
    d = Deliverer(
        store, {"ticket:x": ch}, clock, rng=random.Random(0), base_backoff=10, max_backoff=60,
        alert_after=300, on_alert=lambda *a: alerts.append(a),
    )  # fmt: skip
    while clock.time() < 400:
        await d.run_once()
        clock.advance(61)
    assert [(a[0], a[1]) for a in alerts] == [("ticket:x", True)]
    assert "delivery failing since" in alerts[0][2]
    ch.outcomes = []
    clock.advance(61)
    await d.run_once()
    assert [(a[0], a[1]) for a in alerts] == [("ticket:x", True), ("ticket:x", False)]


async def test_unknown_channel_fails_the_row(store: Store) -> None:
    """A row for a channel that is no longer configured fails with a reason instead of blocking."""
    put(store, 1, "open", channel="ticket:gone")
    d = Deliverer(store, {}, FakeClock(0.0))
    await d.run_once()
    row = store.db.execute("SELECT status, last_error FROM outbox").fetchone()
    assert row == ("failed", "channel 'ticket:gone' is not configured any more")


async def test_rows_survive_a_new_deliverer(tmp_path: Path) -> None:
    """Pending rows written by one process are delivered by the next (a restart)."""
    path = str(tmp_path / "w.db")
    s1 = Store(path)
    put(s1, 5, "open")
    s1.close()
    s2 = Store(path)
    ch = ScriptedChannel()
    await Deliverer(s2, {"ticket:x": ch}, FakeClock(0.0)).run_once()
    assert ch.calls == [("open", 1, None)]
    s2.close()


def intent(kind: str, op_id: int, key: str = "watchd-web01-disk-1") -> TicketIntent:
    return TicketIntent(
        kind, key, 1, op_id, "web01", "disk", "P1", "CRITICAL", "subject", f"body {op_id}", 1.0
    )


async def test_builtin_backend_is_exactly_once(store: Store) -> None:
    """Redelivering the same operations (a crash before marking done) changes nothing."""
    b = BuiltinBackend(store)
    for _ in range(2):
        assert await b.deliver(intent("open", 1), None) == "watchd-web01-disk-1"
        await b.deliver(intent("update", 2), "watchd-web01-disk-1")
    assert store.db.execute("SELECT count(*), status FROM builtin_tickets").fetchone() == (1, "open")
    assert store.db.execute("SELECT count(*) FROM builtin_ticket_notes").fetchone() == (2,)
    await b.deliver(intent("resolve", 3), "watchd-web01-disk-1")
    await b.deliver(intent("resolve", 3), "watchd-web01-disk-1")
    assert store.db.execute("SELECT status FROM builtin_tickets").fetchone() == ("resolved",)
    assert store.db.execute("SELECT count(*) FROM builtin_ticket_notes").fetchone() == (3,)


async def test_ticket_channel_passes_the_row_id_as_op_id(store: Store) -> None:
    """The outbox row id reaches the backend as the operation id."""
    payload = intent("open", 0).to_json()
    del payload["op_id"]
    ref = await TicketChannel(BuiltinBackend(store)).deliver_row("open", payload, 42, None)
    assert ref == "watchd-web01-disk-1"
    assert store.db.execute("SELECT op_id FROM builtin_ticket_notes").fetchone() == (42,)
