"""The live view and the dashboard model, pure: messages in, what the pages show out."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from watchd.console import config, dashboard
from watchd.console.view import FleetView, IncidentChanged, StateChanged

T0 = 1_800_000_000.0


def state(host: str, check: str, hard: str, soft: str | None = None, at: float = T0) -> dict[str, Any]:
    return {
        "schema": "watchd.state/v1", "host": host, "check": check, "hard_state": hard,
        "state": soft or hard, "state_type": "hard", "attempt": 1, "summary": f"{check} is {hard}",
        "flapping": False, "last_check": at, "last_change": at, "last_hard_change": at, "at": at,
    }  # fmt: skip


def status(online: bool, reason: str = "", interval: float = 10.0) -> dict[str, Any]:
    return {
        "schema": "watchd.status/v1", "status": "online" if online else "offline", "reason": reason,
        "version": "1", "started_at": T0, "heartbeat_interval": interval,
    }  # fmt: skip


def incident(iid: int, check: str, **extra: Any) -> dict[str, Any]:
    return {
        "schema": "watchd.incident/v1", "id": iid, "check": check, "status": "open", "priority": "P1",
        "summary": "down", "opened_at": T0, "respond_by": T0 + 1800, "resolve_by": T0 + 4 * 3600, **extra,
    }  # fmt: skip


def cfg(tmp_path: Path, body: str = "") -> config.ConsoleConfig:
    f = tmp_path / "console.yaml"
    auth = "auth: {proxy_header: X-User, trusted_proxies: [127.0.0.1/32], proxy_auto_viewer: true}\n"
    f.write_text(auth + body)
    return config.load(str(f))


def test_state_changes_are_reported_once_and_repeats_are_not() -> None:
    v = FleetView()
    first = v.state("web-1", "http", state("web-1", "http", "OK"), T0)
    assert isinstance(first, StateChanged)
    assert first.previous_hard is None
    assert v.state("web-1", "http", state("web-1", "http", "OK"), T0 + 1) is None
    change = v.state("web-1", "http", state("web-1", "http", "CRITICAL", at=T0 + 5), T0 + 5)
    assert change == StateChanged("web-1", "http", T0 + 5, "CRITICAL", "CRITICAL", "OK", "http is CRITICAL")
    assert v.hosts["web-1"].worst() == "CRITICAL"


def test_hostile_messages_are_rejected_not_stored() -> None:
    v = FleetView()
    for doc in ({}, {"schema": "watchd.state/v1", "hard_state": "ON FIRE", "state": "OK"}, [], "x", 5):
        assert v.state("h", "c", doc, T0) is None
    assert v.status("h", {"schema": "watchd.status/v1", "status": "maybe"}, T0) is None
    assert v.incident("h", 3, incident(4, "c")) is None  # the id must match the topic
    assert v.rejected == 7
    assert v.hosts["h"].checks == {}


def test_a_removed_check_and_a_cleared_incident_disappear() -> None:
    v = FleetView()
    v.state("h", "c", state("h", "c", "OK"), T0)
    v.state("h", "c", None, T0)
    assert v.hosts["h"].checks == {}
    assert isinstance(v.incident("h", 7, incident(7, "c")), IncidentChanged)
    assert 7 in v.hosts["h"].incidents
    v.incident("h", 7, None)
    assert v.hosts["h"].incidents == {}


def test_silence_is_judged_by_heartbeat_interval_and_the_last_will() -> None:
    v = FleetView()
    v.status("quiet", status(True, interval=10), T0)
    v.status("lost", status(False, "connection lost"), T0)
    v.status("stopped", status(False, "shutdown"), T0)
    h = v.hosts
    assert not h["quiet"].silent(T0 + 29, 3, 10)
    assert h["quiet"].silent(T0 + 31, 3, 10)
    v.heartbeat("quiet", T0 + 30)
    assert not h["quiet"].silent(T0 + 31, 3, 10)
    assert h["lost"].silent(T0, 3, 10), "the broker's last will means the host is gone"
    assert not h["stopped"].silent(T0 + 999, 3, 10), "a clean stop is someone's decision, not silence"
    assert [x.name for x in v.silent(T0 + 61, 3, 10)] == ["quiet", "lost"]


def test_dashboard_puts_problems_first_grouped_by_customer_with_deadlines(tmp_path: Path) -> None:
    c = cfg(
        tmp_path,
        "console: {ticket_urls: {rt: 'https://rt.example.net/Ticket/Display.html?id={ref}'}}\n"
        "customers:\n  acme: {name: ACME, hosts: ['web-*']}\n  beta: {name: Beta, hosts: [db-1]}\n",
    )
    v = FleetView()
    for host in ("web-1", "web-2", "db-1", "stray"):
        v.status(host, status(True), T0)
        v.state(host, "http", state(host, "http", "OK"), T0)
    v.state("db-1", "mysql", state("db-1", "mysql", "WARNING"), T0)
    v.state("web-2", "http", state("web-2", "http", "CRITICAL"), T0)
    told = [{"contact": "ops@example.net", "medium": "", "at": T0}]
    v.incident("web-2", 5, incident(5, "http", told=told, ticket={"channel": "ticket:rt", "ref": "9 /x"}))
    now = T0 + 1900  # respond_by passed 100 s ago, unacknowledged
    for host in ("web-1", "web-2", "db-1"):
        v.heartbeat(host, now)
    board = dashboard.build(v, dashboard.Owners(c), now)
    assert [g.id for g in board.groups] == ["", "acme", "beta"], "the silent stray host comes first"
    assert [h.name for h in board.silent] == ["stray"]
    board.groups.pop(0)
    acme = board.groups[0]
    assert (acme.total, acme.healthy, [p.host.name for p in acme.hosts]) == (2, 1, ["web-2"])
    row = acme.hosts[0].incidents[0]
    respond, resolve = row.deadlines
    assert respond.breached
    assert respond.left == -100
    assert not resolve.breached
    assert resolve.left == 4 * 3600 - 1900
    assert row.ticket == dashboard.Ticket("rt", "9 /x", "https://rt.example.net/Ticket/Display.html?id=9%20%2Fx")
    assert row.told == ("ops@example.net",)
    assert (board.problems, board.incidents, board.breached) == (2, 1, 1)


def test_an_acknowledged_incident_met_its_response_deadline(tmp_path: Path) -> None:
    row = dashboard.incident_row("h", incident(1, "c", acked_at=T0 + 60, acked_by="alice"), T0 + 7200)
    respond = row.deadlines[0]
    assert respond.met
    assert not respond.breached
    assert row.acked_by == "alice"


def test_a_check_that_never_changed_is_known_from_when_the_console_saw_it() -> None:
    """A host says last_change 0 for "never changed since start": that is not 1970 (which would make
    90 days of green bars out of a few seconds of monitoring)."""
    v = FleetView()
    doc = state("h", "c", "OK") | {"last_change": 0.0, "last_hard_change": 0.0}
    change = v.state("h", "c", doc, T0 + 5)
    assert change is not None
    assert change.at == T0 + 5
    assert v.hosts["h"].checks["c"].last_hard_change is None


def test_history_keeps_what_it_could_not_write_for_the_next_flush(tmp_path: Path) -> None:
    from watchd.console import history

    db = history.connect(str(tmp_path / "h.db"))
    h = history.History(db)
    h.add(StateChanged("h", "c", T0, "CRITICAL", "CRITICAL", "OK", "down"))
    h.sample(history.Sample("h", "c", "load", "", 1.5, None, None, T0))
    db.execute("CREATE TRIGGER no BEFORE INSERT ON state_changes BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        h.flush()
    assert h.pending == 2
    db.execute("DROP TRIGGER no")
    assert h.flush() == 2
    assert db.execute("SELECT hard_state FROM state_changes").fetchall() == [("CRITICAL",)]
    assert db.execute("SELECT v FROM samples").fetchall() == [(1.5,)]
