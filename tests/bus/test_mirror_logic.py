"""The retained snapshots without a broker: what an incident and the maintenance snapshot say, and what
the Mirror queues when (a real store and the daemon's snapshot source, the real OfflineBuffer; the
clock is a FakeClock). The broker side is in test_mirror_live.py."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from watchd import config as config_mod
from watchd.bus import snapshots
from watchd.bus.buffer import Kind, Message, OfflineBuffer
from watchd.bus.mirror import Mirror
from watchd.bus.publisher import BatchPublisher
from watchd.bus.snapshots import Delivery, IncidentView, MaintenanceView, SilenceView, WindowView
from watchd.bus.topics import Topics
from watchd.config import Config
from watchd.control import actions
from watchd.core.clock import FakeClock
from watchd.core.model import CheckResult, CheckStatus, Incident, State, StateType
from watchd.daemon.routing import Routing
from watchd.daemon.snapshots import StoreSnapshots
from watchd.delivery import effects
from watchd.delivery.outbox import Deliverer
from watchd.delivery.tickets.builtin import BuiltinBackend
from watchd.delivery.tickets.channel import TicketChannel
from watchd.pipeline import Batch, Event
from watchd.store import Store
from watchd.store import incidents as incident_store

T0 = 1_700_000_000.0  # Tue 2023-11-14 22:13:20 UTC
TOPIC = "watchd/web01/incident/1"


class Accepting:
    """A notification channel that takes everything (the live test uses a real webhook)."""

    def __init__(self) -> None:
        self.calls = 0

    async def deliver_row(self, kind: str, payload: dict[str, Any], op_id: int, ref: str | None) -> str:
        self.calls += 1
        return f"msg-{op_id}"


class Site:
    """A store, a config with one recurring window, the daemon's snapshot source and a Mirror."""

    def __init__(self, root: Path) -> None:
        cfg = root / "watchd.yaml"
        cfg.write_text(
            f"host: web01\ndata_dir: {root / 'data'}\napi: {{enabled: false}}\n"
            "checks:\n  disk: {command: [/bin/true], tags: [storage]}\n  load: {command: [/bin/true]}\n"
            "maintenance:\n  windows:\n"
            "    backup: {days: [wed], start: '02:00', duration: 2h, timezone: UTC, tags: [storage],"
            " comment: nightly backup}\n"
        )
        self.config: Config = config_mod.load(str(cfg))
        self.store = Store(self.config.db_path)
        self.clock = FakeClock(T0)
        self.buffer = OfflineBuffer(1000)
        routing = Routing(lambda: self.config, lambda: self.store, dict)
        self.source = StoreSnapshots(lambda: self.store, lambda: self.config, routing.downtimes)
        self.woken = 0
        self.mirror = Mirror(Topics("watchd/", "web01"), self.buffer, self.wake, self.source, self.clock)

    def wake(self) -> None:
        self.woken += 1

    def open_incident(self, check: str = "disk") -> Incident:
        """An incident as the pipeline records it: a builtin ticket and a notification queued."""
        now = self.clock.time()
        with self.store.transaction() as db:
            inc = Incident("web01", check, "P2", "high", "medium", State.CRITICAL, "DISK CRITICAL", now, now,
                           id=incident_store.next_id(db))  # fmt: skip
            rows = effects.ticket_rows(inc, "open", "opened", None, now, ["builtin"])
            rows += effects.notify_rows(inc, "open", "opened", None, now, ["notify:ops:webhook"])
            effects.record(db, inc, "open", "opened", rows, now)
        return inc

    async def deliver(self) -> Accepting:
        webhook = Accepting()
        channels: dict[str, Any] = {
            "ticket:builtin": TicketChannel(BuiltinBackend(self.store)),
            "notify:ops:webhook": webhook,
        }
        await Deliverer(self.store, channels, self.clock, on_settled=lambda i: self.mirror.kick()).run_once()
        return webhook

    def drain(self) -> list[Message]:
        out = []
        while (item := self.buffer.peek()) is not None:
            out.append(item[1])
            self.buffer.done(item[0])
        return out

    def synced(self) -> list[Message]:
        self.mirror.sync()
        return self.drain()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path)
    yield s
    s.store.close()


def on(messages: list[Message], topic: str) -> list[Message]:
    return [m for m in messages if m.topic == topic]


# -- incidents ------------------------------------------------------------------------------------


async def test_an_open_incident_is_retained_and_follows_its_deliveries_and_ack(site: Site) -> None:
    """Open: a retained snapshot with its pending deliveries; unchanged: nothing again; delivered:
    the refs, who was told and the ticket; acknowledged: acked_by and the ack action."""
    inc = site.open_incident()
    first = on(site.synced(), TOPIC)
    assert [(m.retain, m.qos, m.kind, m.key) for m in first] == [(True, 1, Kind.STATE, "incident:1")]
    doc = json.loads(first[0].payload)
    assert doc["schema"] == "watchd.incident/v1"
    assert (doc["action"], doc["status"], doc["priority"], doc["key"]) == ("open", "open", "P2", inc.key)
    assert [(d["channel"], d["kind"], d["status"]) for d in doc["deliveries"]] == [
        ("ticket:builtin", "open", "pending"),
        ("notify:ops:webhook", "open", "pending"),
    ]
    assert (doc["told"], doc["ticket"]) == ([], None)
    assert site.synced() == []  # nothing changed: nothing queued
    site.clock.advance(5)
    webhook = await site.deliver()
    assert webhook.calls == 1
    assert site.mirror._pending  # the outbox kicked it
    doc = json.loads(on(site.synced(), TOPIC)[0].payload)
    assert [(d["channel"], d["status"], d["ref"], d["done_at"]) for d in doc["deliveries"]] == [
        ("ticket:builtin", "done", inc.key, T0 + 5),
        ("notify:ops:webhook", "done", None, T0 + 5),  # a notification's ref is no ticket
    ]
    assert doc["told"] == [{"contact": "ops", "medium": "webhook", "at": T0 + 5}]
    assert doc["ticket"] == {"channel": "ticket:builtin", "ref": inc.key}
    site.clock.advance(60)
    actions.ack(site.store, inc.id, "alice", "on it", site.clock.time())
    doc = json.loads(on(site.synced(), TOPIC)[0].payload)
    assert (doc["action"], doc["acked_by"], doc["acked_at"]) == ("ack", "alice", T0 + 65)
    assert doc["deliveries"][-2:] == [  # the ack goes to the ticket that exists and to who was told
        {"channel": "ticket:builtin", "kind": "update", "status": "pending", "ref": inc.key, "done_at": None},
        {"channel": "notify:ops:webhook", "kind": "ack", "status": "pending", "ref": None, "done_at": None},
    ]


def test_a_resolved_incident_is_published_once_then_cleared(site: Site) -> None:
    """Resolve: the resolved snapshot once (live, not retained), then an empty retained message; after
    that the incident is never mentioned again, and other incidents are untouched."""
    inc = site.open_incident("disk")
    other = site.open_incident("load")
    site.synced()
    site.clock.advance(10)
    actions.resolve(site.store, inc.id, "bob", "fixed", site.clock.time())
    out = on(site.synced(), TOPIC)
    assert [(m.retain, m.kind) for m in out] == [(False, Kind.EVENT), (True, Kind.STATE)]
    doc = json.loads(out[0].payload)
    assert (doc["status"], doc["action"], doc["resolved_at"]) == ("resolved", "resolve", T0 + 10)
    assert out[1].payload == b""
    assert site.synced() == []
    site.mirror.touched([other.id])  # a decision about an open incident that changed nothing
    assert site.synced() == []


def test_touched_by_the_pipeline_but_resolved_before_the_sync(site: Site) -> None:
    """Opened and resolved within one coalescing interval: the resolution still goes out once."""
    inc = site.open_incident()
    actions.resolve(site.store, inc.id, "bob", "", site.clock.time())
    site.mirror.touched([inc.id])
    out = on(site.synced(), TOPIC)
    assert [json.loads(m.payload)["status"] if m.payload else None for m in out] == ["resolved", None]
    assert site.synced() == []


def test_stale_retained_snapshots_are_cleared(site: Site) -> None:
    """What the broker hands back on subscribe is checked against the store: an unknown incident is
    cleared, a resolved one gets its resolution and is cleared, an open one stays."""
    inc = site.open_incident()
    gone = site.open_incident("load")
    actions.resolve(site.store, gone.id, "cli", "", site.clock.time())
    site.synced()
    for incident_id in (inc.id, gone.id, 77):
        site.mirror.seen_retained(incident_id)
    out = site.synced()
    assert [(m.topic, m.payload == b"", m.retain) for m in out if "/incident/" in m.topic] == [
        ("watchd/web01/incident/2", False, False),
        ("watchd/web01/incident/2", True, True),
        ("watchd/web01/incident/77", True, True),
    ]


def test_republish_queues_every_snapshot_once(site: Site) -> None:
    """After a reconnect every retained snapshot is queued again, but not beside a queued newer one."""
    site.open_incident("disk")
    site.open_incident("load")
    site.synced()
    site.mirror.republish()
    again = site.drain()
    assert sorted(m.key or "" for m in again) == ["incident:1", "incident:2", "maintenance"]
    assert all(m.retain for m in again)
    site.mirror.republish()
    site.mirror.republish()
    assert len(site.buffer) == 3


def test_a_failing_source_is_counted_not_raised(site: Site) -> None:
    site.store.close()
    site.mirror.sync_safely()
    assert site.mirror.errors == 1
    site.store = Store(site.config.db_path)


# -- maintenance ----------------------------------------------------------------------------------


def maintenance(out: list[Message]) -> dict[str, Any]:
    (msg,) = on(out, "watchd/web01/maintenance")
    assert (msg.retain, msg.key) == (True, "maintenance")
    doc: dict[str, Any] = json.loads(msg.payload)
    return doc


def test_maintenance_lists_windows_and_silences_and_follows_time(site: Site) -> None:
    """Recurring windows from the config and downtimes from the store (host, check, tag scopes), and
    silences; republished when one is added or removed, and when a window starts (active flips)."""
    empty = maintenance(site.synced())
    assert empty["schema"] == "watchd.maintenance/v1"
    assert [w["key"] for w in empty["windows"]] == ["config:backup", "config:backup"]  # two Wednesdays
    assert empty["silences"] == []
    backup = empty["windows"][0]
    assert backup == {
        "key": "config:backup", "source": "config", "name": "backup", "start": T0 + 13600,
        "end": T0 + 20800, "active": False,
        "scope": {"host": False, "checks": [], "tags": ["storage"], "covers": ["disk"]},
        "comment": "nightly backup",
        "announce": False,
    }  # fmt: skip
    now = site.clock.time()
    did = actions.add_downtime(site.store, "host", "web01", now + 60, now + 3600, "ops", "kernel", False, now)
    actions.add_downtime(site.store, "check", "load", now + 60, now + 120, "ops", "", False, now)
    actions.add_silence(site.store, "disk", now, now + 600, "mqtt", "noisy", now)
    doc = maintenance(site.synced())
    host = next(w for w in doc["windows"] if w["key"] == f"downtime:{did}")
    assert (host["source"], host["scope"], host["comment"], host["active"]) == (
        "downtime", {"host": True, "checks": [], "tags": [], "covers": []}, "kernel", False,
    )  # fmt: skip
    assert [w["scope"]["checks"] for w in doc["windows"] if w["source"] == "downtime"] == [[], ["load"]]
    assert [(s["check"], s["by"], s["comment"], s["active"]) for s in doc["silences"]] == [
        ("disk", "mqtt", "noisy", True)
    ]
    assert site.synced() == []  # nothing changed
    assert site.mirror._boundary == now + 60  # the downtimes start then
    site.clock.advance(60)
    doc = maintenance(site.synced())
    assert [w["active"] for w in doc["windows"] if w["source"] == "downtime"] == [True, True]
    assert doc["at"] == now + 60
    actions.remove_downtime(site.store, did, site.clock.time())
    doc = maintenance(site.synced())
    assert f"downtime:{did}" not in [w["key"] for w in doc["windows"]]


def test_a_minutely_window_is_truncated() -> None:
    many = MaintenanceView(tuple(WindowView(f"config:m{i}", i * 60.0, i * 60.0 + 30) for i in range(150)))
    doc = snapshots.maintenance_doc("h", many, 0.0, 86400.0)
    assert len(doc["windows"]) == snapshots.MAX_WINDOWS
    assert doc["truncated"] is True
    assert snapshots.next_boundary(many, 0.0) == 30.0
    few = MaintenanceView((), (SilenceView(1, "disk", 10.0, 20.0),))
    assert "truncated" not in snapshots.maintenance_doc("h", few, 0.0, 1.0)
    assert snapshots.next_boundary(few, 20.0) is None


# -- snapshot payload, pure -----------------------------------------------------------------------


def test_told_ticket_and_the_delivery_cap() -> None:
    """`told`: each contact and medium once, at its first done delivery (pending and failed ones do
    not count); `ticket`: an external system's over the builtin one; only the newest rows listed."""
    inc = Incident("h", "c", "P1", "high", "high", State.CRITICAL, "x", 1.0, 1.0, id=9)
    rows = (
        Delivery("ticket:builtin", "open", "done", 2.0, "watchd-h-c-9"),
        Delivery("ticket:jira", "open", "done", 3.0, "OPS-7"),
        Delivery("notify:bob:sms", "open", "done", 5.0),
        Delivery("notify:amy:email", "open", "done", 4.0),
        Delivery("notify:amy:email", "renotify", "done", 9.0),
        Delivery("notify:cy:email", "open", "failed", 4.0),
        Delivery("notify:dan:voice", "open", "pending"),
        *(Delivery("notify:bob:sms", "renotify", "done", 10.0 + i) for i in range(60)),
    )
    doc = json.loads(snapshots.incident_payload(IncidentView(inc, "escalate", rows)))
    assert doc["told"] == [
        {"contact": "amy", "medium": "email", "at": 4.0},
        {"contact": "bob", "medium": "sms", "at": 5.0},
    ]
    assert doc["ticket"] == {"channel": "ticket:jira", "ref": "OPS-7"}
    assert len(doc["deliveries"]) == snapshots.MAX_DELIVERIES
    assert doc["deliveries_omitted"] == len(rows) - snapshots.MAX_DELIVERIES
    assert doc["deliveries"][-1]["done_at"] == 69.0
    assert doc["action"] == "escalate"


# -- the publisher's side -------------------------------------------------------------------------


def batch(check: str, state: State, incident: Incident | None = None) -> Batch:
    now = time.time()
    result = CheckResult(check, state, check, started_at=now)
    b = Batch([Event(result, None, CheckStatus(check, state, StateType.HARD, 1, state, last_check=now))], now)
    if incident is not None:
        b.incidents.append(("open", incident))
    return b


def test_the_publisher_hands_incidents_to_the_mirror_and_republishes_states() -> None:
    """With a mirror, incident decisions are ids for it (no lifecycle events); a batch without
    incidents or deliveries does not reach it at all (no per-result work); every check's last
    state can be queued again after a reconnect, once."""
    buf = OfflineBuffer(1000)
    told: list[list[int]] = []
    pub = BatchPublisher(Topics("watchd/", "web01"), buf, 0, lambda: None, lambda ids: told.append(list(ids)))
    for _ in range(100):
        pub.publish(batch("load", State.OK))
    assert told == []
    inc = Incident("web01", "disk", "P2", "x", "y", State.CRITICAL, "s", 1.0, 1.0, id=4)
    pub.publish(batch("disk", State.CRITICAL, inc))
    assert told == [[4]]
    effects_only = batch("disk", State.CRITICAL)
    effects_only.effects = 2  # an escalation queued rows
    pub.publish(effects_only)
    assert told == [[4], []]
    sent = drain(buf)
    assert not any("/incident/" in m.topic for m in sent)
    states = {m.topic: m.payload for m in sent if m.topic.endswith("/state")}
    assert len(states) == 2
    pub.republish()
    pub.republish()
    again = drain(buf)
    assert [m.key for m in again] == ["state:load", "state:disk"]
    assert {m.topic: m.payload for m in again} == states
    assert all(m.retain and m.qos == 1 for m in again)


def drain(buf: OfflineBuffer) -> list[Message]:
    out = []
    while (item := buf.peek()) is not None:
        out.append(item[1])
        buf.done(item[0])
    return out


# -- the loop -------------------------------------------------------------------------------------


async def test_kicks_coalesce_and_another_process_is_noticed(site: Site) -> None:
    """A burst of kicks is a sync or two, not one each; a write by another process (the CLI's own
    connection) is seen through the store's data_version within the poll."""
    mirror = Mirror(Topics("watchd/", "web01"), site.buffer, site.wake, site.source, site.clock,
                    interval=0.2, poll=0.05, sweep=60.0)  # fmt: skip
    task = asyncio.ensure_future(mirror.run())
    try:
        await until(lambda: mirror.syncs == 1)
        for _ in range(200):
            mirror.kick()
        await until(lambda: mirror.syncs == 2)
        await asyncio.sleep(0.3)
        assert mirror.syncs == 2  # one burst, one sync
        loop = asyncio.get_running_loop()
        end = loop.time() + 0.6
        while loop.time() < end:  # kicked every 10 ms: at most one sync per interval (0.2 s)
            mirror.kick()
            await asyncio.sleep(0.01)
        assert 3 <= mirror.syncs <= 2 + 4
        site.drain()
        cli = sqlite3.connect(site.config.db_path)
        with cli:
            cli.execute(
                "INSERT INTO downtimes (scope, target, starts_at, ends_at, comment, created_by, announce,"
                " created_at) VALUES ('host', '', ?, ?, 'from the cli', 'me', 0, ?)",
                (T0, T0 + 600, T0),
            )
        cli.close()
        await until(lambda: any(m.topic.endswith("/maintenance") for m in site.drain()))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until(pred: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)
