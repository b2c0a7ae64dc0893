"""Contacts, escalation, silences, maintenance and dependencies through a real daemon in-process,
with real plugins and an injected clock: the test moves time, the follow-up pass is driven directly,
and what the daemon decided is read from the outbox (delivery itself is tested in test_notify_e2e)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from watchd import config
from watchd.control import actions
from watchd.core.clock import FakeClock
from watchd.daemon import Daemon
from watchd.delivery.tickets import TicketChange, TwoWay

FRI_1630_CET = dt.datetime(2026, 11, 27, 15, 30, tzinfo=dt.UTC).timestamp()
MON_0931_CET = dt.datetime(2026, 11, 30, 8, 31, tzinfo=dt.UTC).timestamp()
H = 3600.0


class Site:
    def __init__(self, root: Path, extra: str = "") -> None:
        self.root = root
        self.codes: dict[str, Path] = {}
        plugins = ""
        for name in ("parent", "shop"):
            code = root / f"{name}.code"
            code.write_text("0")
            self.codes[name] = code
            plugin = root / f"check_{name}"
            plugin.write_text(f'#!/bin/sh\nc=$(cat {code})\necho "{name.upper()} code $c"\nexit $c\n')
            plugin.chmod(0o755)
            shop = ", impact: high, description: Webshop, notify: [acme, oncall], depends_on: [parent]}\n"
            plugins += f"  {name}: {{command: [{plugin}]" + (
                shop if name == "shop" else ", notify: [oncall]}\n"
            )
        self.cfg = root / "watchd.yaml"
        self.base = f"""
host: web01
data_dir: {root / "data"}
api: {{enabled: false}}
log: {{level: warning}}
scheduler: {{followup_interval: 1h}}
defaults: {{max_attempts: 1}}
contacts:
  acme: {{kind: customer, name: ACME B.V., language: nl, email: [ops@acme.test]}}
  oncall: {{kind: oncall, email: [oncall@provider.test]}}
  lead: {{kind: oncall, email: [lead@provider.test]}}
notify:
  smtp: {{host: 127.0.0.1, port: 1, timeout: 1s}}  # nothing listens: deliveries fail fast
  renotify_interval: 1h
  escalation:
    P2: [{{after: 0, contacts: [lead]}}]
checks:
{plugins}"""
        self.write(extra)

    def write(self, extra: str = "") -> None:
        self.cfg.write_text(self.base + extra)

    def set(self, check: str, code: int) -> None:
        self.codes[check].write_text(str(code))

    def daemon(self, clock: FakeClock) -> Daemon:
        return Daemon(config.load(str(self.cfg)), str(self.cfg), clock=clock)

    def rows(self, since: int = 0) -> list[tuple[str, str]]:
        db = sqlite3.connect(self.root / "data" / "watchd.db")
        try:
            sql = "SELECT channel, kind FROM outbox WHERE id > ? ORDER BY id"
            return db.execute(sql, (since,)).fetchall()
        finally:
            db.close()

    def incident(self, check: str) -> tuple:
        db = sqlite3.connect(self.root / "data" / "watchd.db")
        try:
            return db.execute(
                "SELECT id, status, priority, suppressed_by, response_breached_at, resolution_breached_at"
                " FROM incidents WHERE check_name = ? ORDER BY id DESC LIMIT 1",
                (check,),
            ).fetchone()
        finally:
            db.close()


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


@pytest.fixture
async def running(site: Site):
    clock = FakeClock(FRI_1630_CET)
    d = site.daemon(clock)
    await d.start()
    try:
        yield d, clock
    finally:
        await d.stop()


OPENED = [
    ("ticket:builtin", "open"),
    ("notify:acme:email", "open"),
    ("notify:oncall:email", "open"),
]


async def test_open_tells_the_customer_and_on_call(site: Site, running) -> None:
    """A confirmed problem opens a ticket and notifies exactly the check's contacts, once."""
    d, _ = running
    site.set("shop", 2)
    await d.run_check("shop")
    await d.run_check("shop")  # still failing: nothing new
    assert site.rows() == OPENED
    assert site.incident("shop")[1:4] == ("open", "P2", None)


async def test_escalation_across_the_weekend_fires_once_even_across_a_restart(site: Site) -> None:
    """Opened Friday 16:30 CET (P2, respond by Monday 09:30): nothing over the weekend; the daemon is down
    when the deadline passes; at start on Monday it escalates to the lead and marks the breach, once."""
    clock = FakeClock(FRI_1630_CET)
    d = site.daemon(clock)
    await d.start()
    try:
        site.set("shop", 2)
        await d.run_check("shop")
        clock.advance(20 * H)  # Saturday noon: on-call is renotified (24/7), nobody is escalated to
        await d.followup.tick()
        assert site.rows() == [*OPENED, ("notify:oncall:email", "renotify")]
    finally:
        await d.stop()

    clock.advance(MON_0931_CET - clock.time())
    d2 = site.daemon(clock)
    await d2.start()
    try:
        await d2.followup.tick()
        await d2.followup.tick()
        escalations = [r for r in site.rows() if r[1] == "escalate"]
        assert escalations == [("notify:lead:email", "escalate")]
        assert ("ticket:builtin", "update") in site.rows()  # the ticket records the escalation
        _, status, _, _, response_breached, _ = site.incident("shop")
        assert status == "open"
        assert response_breached == dt.datetime(2026, 11, 30, 8, 30, tzinfo=dt.UTC).timestamp()
    finally:
        await d2.stop()


async def test_ack_stops_escalation_and_renotification(site: Site, running) -> None:
    """After an ack, the respond deadline passes silently; the ack itself goes to whoever was told."""
    d, clock = running
    site.set("shop", 2)
    await d.run_check("shop")
    inc_id = site.incident("shop")[0]
    n = len(site.rows())
    actions.ack(d.store, inc_id, "alice", "looking", clock.time() + 60)
    assert sorted(site.rows(n)) == [
        ("notify:acme:email", "ack"),
        ("notify:oncall:email", "ack"),
        ("ticket:builtin", "update"),
    ]
    clock.advance(MON_0931_CET - clock.time())
    n = len(site.rows())
    await d.followup.tick()
    assert [r for r in site.rows(n) if r[1] in ("escalate", "renotify")] == []
    assert site.incident("shop")[4] is None  # acknowledged in time: no response breach


async def test_renotify_goes_to_on_call_only(site: Site, running) -> None:
    """Every renotify_interval while unacknowledged, on-call hears again; the customer is not spammed."""
    d, clock = running
    site.set("shop", 2)
    await d.run_check("shop")
    n = len(site.rows())
    clock.advance(0.5 * H)
    await d.followup.tick()
    assert site.rows(n) == []
    clock.advance(0.5 * H)
    await d.followup.tick()
    await d.followup.tick()
    assert site.rows(n) == [("notify:oncall:email", "renotify")]


async def test_silence_expiry_with_a_still_failing_check(site: Site, running) -> None:
    """A problem during a silence is held back; when the silence ends and it persists, people are told
    then, once."""
    d, clock = running
    actions.add_silence(d.store, "shop", clock.time(), clock.time() + H, "alice", "deploy", clock.time())
    site.set("shop", 2)
    await d.run_check("shop")
    assert site.rows() == []
    assert site.incident("shop")[3].startswith("silenced by alice until")
    clock.advance(0.5 * H)
    await d.followup.tick()
    assert site.rows() == []
    clock.advance(0.5 * H + 1)
    await d.followup.tick()
    await d.followup.tick()
    assert site.rows() == OPENED
    assert site.incident("shop")[3] is None


async def test_recovery_during_a_silence_tells_nobody(site: Site, running) -> None:
    """A problem that comes and goes inside a silence is recorded and resolved without a word."""
    d, clock = running
    actions.add_silence(d.store, "shop", clock.time(), clock.time() + H, "alice", "", clock.time())
    site.set("shop", 2)
    await d.run_check("shop")
    site.set("shop", 0)
    await d.run_check("shop")
    assert site.rows() == []
    assert site.incident("shop")[1] == "resolved"


async def test_maintenance_window_end_opens_the_ticket(site: Site, running) -> None:
    """A problem that started inside a downtime and persists after it is ticketed at the window end."""
    d, clock = running
    now = clock.time()
    actions.add_downtime(d.store, "host", "", now - 60, now + H, "bob", "kernel update", False, now)
    site.set("shop", 2)
    await d.run_check("shop")
    assert site.rows() == []
    assert site.incident("shop")[3].startswith("maintenance window downtime:1")
    clock.advance(H)
    await d.followup.tick()
    assert site.rows() == OPENED


async def test_dependency_holds_back_the_child_until_the_parent_recovers(site: Site, running) -> None:
    """While the parent fails, the child's problem opens no ticket; when the parent recovers and the
    child still fails, the child's incident opens then."""
    d, _ = running
    site.set("parent", 2)
    await d.run_check("parent")
    site.set("shop", 2)
    await d.run_check("shop")
    assert ("ticket:builtin", "open") in site.rows()  # the parent's own incident
    assert not any(ch.startswith("notify:acme") for ch, _ in site.rows())
    assert site.incident("shop")[3] == "depends on parent, which is failing"
    n = len(site.rows())
    site.set("parent", 0)
    await d.run_check("parent")
    await d.followup.tick()
    opened = [r for r in site.rows(n) if r[1] == "open"]
    assert opened == OPENED


async def test_priority_raised_is_notified(site: Site, running) -> None:
    """WARNING opens at P3; CRITICAL raises it to P2 and tells the contacts 'raised'."""
    d, _ = running
    site.set("shop", 1)
    await d.run_check("shop")
    assert site.incident("shop")[2] == "P3"
    n = len(site.rows())
    site.set("shop", 2)
    await d.run_check("shop")
    assert site.incident("shop")[2] == "P2"
    assert sorted(site.rows(n)) == [
        ("notify:acme:email", "raised"),
        ("notify:oncall:email", "raised"),
        ("ticket:builtin", "update"),
    ]


async def test_announcement_once_then_cancellation(site: Site) -> None:
    """A window on Tuesday 1 Dec 00:00 CET is announced Thursday 26 Nov 09:00 CET (3 business days
    ahead) to customers, once; removing it from the config sends one cancellation."""
    window = (
        "maintenance:\n  windows:\n    patch: {days: [tue], start: '00:00', duration: 2h, announce: true}\n"
    )
    site.write(window)
    clock = FakeClock(dt.datetime(2026, 11, 26, 7, 59, tzinfo=dt.UTC).timestamp())
    d = site.daemon(clock)
    await d.start()
    try:
        await d.followup.tick()
        assert site.rows() == []
        clock.advance(60)
        await d.followup.tick()
        await d.followup.tick()
        assert site.rows() == [("notify:acme:email", "maintenance_announce")]
        site.write()
        assert await d.reload() == []
        await d.followup.tick()
        await d.followup.tick()
        assert site.rows()[1:] == [("notify:acme:email", "maintenance_cancel")]
    finally:
        await d.stop()


class TakenTicket:
    """Stands in for a ticket backend whose ticket an engineer took (RT: owner set); the RT side of
    this is tested against a real RT in tests/tickets/test_rt_backend.py."""

    class Backend:
        two_way = TwoWay(poll=60.0)

        async def changes(self, ref: str, since: str | None) -> list[TicketChange]:
            return [TicketChange("taken", "t1", "bob", "", 0.0, "1")] if ref == "RT-42" else []

    backend = Backend()


async def test_taking_the_ticket_acknowledges_the_incident(site: Site, running) -> None:
    """An owner set in the ticket system acks the incident: no escalation at respond_by afterwards."""
    d, clock = running
    site.set("shop", 2)
    await d.run_check("shop")
    inc_id = site.incident("shop")[0]
    with d.store.transaction() as db:
        db.execute(
            "INSERT INTO ticket_refs (incident_id, channel, ref) VALUES (?, 'ticket:desk', 'RT-42')",
            (inc_id,),
        )
    d.parts.deliverer.channels["ticket:desk"] = TakenTicket()
    await d.followup.tick()
    db = sqlite3.connect(site.root / "data" / "watchd.db")
    try:
        assert db.execute("SELECT acked_by FROM incidents WHERE id = ?", (inc_id,)).fetchone() == ("bob",)
    finally:
        db.close()
    clock.advance(MON_0931_CET - clock.time())
    n = len(site.rows())
    await d.followup.tick()
    assert [r for r in site.rows(n) if r[1] in ("escalate", "renotify")] == []
