"""Incidents end to end with the builtin ticket store: open, resolve, removal, alerts, the CLI,
and kill -9 at every point of an incident's life with exactly one ticket afterwards."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from watchd import config
from watchd.daemon import Daemon


class Host:
    def __init__(self, root: Path, extra: str = "") -> None:
        self.root = root
        self.code = root / "code"
        self.code.write_text("0")
        self.plugin = root / "check_switch"
        self.plugin.write_text(f'#!/bin/sh\nc=$(cat {self.code})\necho "SWITCH code $c"\nexit $c\n')
        self.plugin.chmod(0o755)
        self.cfg = root / "watchd.yaml"
        self.write(extra)

    def write(self, extra: str = "", checks: str | None = None) -> None:
        checks = checks if checks is not None else f"  switch: {{command: [{self.plugin}], impact: high}}\n"
        self.cfg.write_text(
            f"host: web01\ndata_dir: {self.root / 'data'}\napi: {{enabled: false}}\n"
            f"log: {{level: info, format: json}}\n"
            f"defaults: {{interval: 0.1s, retry_interval: 0.1s, max_attempts: 1}}\n"
            f"checks:\n{checks}{extra}"
        )

    def set(self, code: int) -> None:
        self.code.write_text(str(code))

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.root / "data" / "watchd.db", timeout=5)

    def daemon(self) -> Daemon:
        return Daemon(config.load(str(self.cfg)), str(self.cfg))


def query(host: Host, sql: str, *args: object) -> list[tuple]:
    if not (host.root / "data" / "watchd.db").exists():
        return []
    db = host.db()
    try:
        return db.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # schema not created yet
        return []
    finally:
        db.close()


async def test_open_deliver_resolve_in_process(tmp_path: Path) -> None:
    """Hard CRITICAL -> incident P2 with builtin ticket; recovery -> both resolved; notes in order."""
    host = Host(tmp_path)
    d = host.daemon()
    await d.start()
    try:
        host.set(2)
        await d.run_check("switch")
        [(status, priority)] = query(host, "SELECT status, priority FROM incidents")
        assert (status, priority) == ("open", "P2")  # impact high x urgency medium
        await d.parts.deliverer.run_once()
        assert query(host, "SELECT status, priority FROM builtin_tickets") == [("open", "P2")]
        host.set(0)
        await d.run_check("switch")
        await d.parts.deliverer.run_once()
        assert query(host, "SELECT status FROM incidents") == [("resolved",)]
        assert query(host, "SELECT status FROM builtin_tickets") == [("resolved",)]
        assert [k for (k,) in query(host, "SELECT kind FROM builtin_ticket_notes ORDER BY op_id")] == [
            "open", "resolve",
        ]  # fmt: skip
    finally:
        await d.stop()


async def test_removed_check_resolves_its_ticket(tmp_path: Path) -> None:
    """A check removed from the config while failing still gets its ticket resolved."""
    host = Host(tmp_path)
    d = host.daemon()
    await d.start()
    try:
        host.set(2)
        await d.run_check("switch")
        host.write(checks="  other: {command: [/bin/true]}\n")
        assert await d.reload() == []
        await d.parts.deliverer.run_once()
        assert query(host, "SELECT status FROM builtin_tickets") == [("resolved",)]
        [(text,)] = query(host, "SELECT text FROM incident_events WHERE action = 'resolve'")
        assert text == "check removed from configuration"
    finally:
        await d.stop()


async def test_delivery_alert_becomes_an_incident_in_the_fallback(tmp_path: Path) -> None:
    """A failing ticket channel is an incident of its own in the fallback store, resolved on recovery."""
    host = Host(tmp_path)
    d = host.daemon()
    await d.start()
    try:
        d.delivery_alert("ticket:helpdesk", True, "delivery failing since 2026-11-23 10:00:00Z: refused")
        await _drain(d)
        rows = query(host, "SELECT check_name, status, priority FROM incidents")
        assert rows == [("watchd.delivery.helpdesk", "open", "P2")]
        assert query(host, "SELECT check_name, status FROM builtin_tickets") == [
            ("watchd.delivery.helpdesk", "open")
        ]
        d.delivery_alert("ticket:helpdesk", False, "delivery recovered")
        await _drain(d)
        assert query(host, "SELECT status FROM builtin_tickets") == [("resolved",)]
    finally:
        await d.stop()


async def _drain(d: Daemon) -> None:
    import asyncio

    await asyncio.gather(*d._background)
    await d.parts.deliverer.run_once()


async def test_incidents_cli(tmp_path: Path, watchd_cmd: list[str]) -> None:
    """list, show, ack and resolve work against the store; ack and resolve queue ticket updates."""
    host = Host(tmp_path)
    d = host.daemon()
    await d.start()
    host.set(2)
    await d.run_check("switch")
    await d.parts.deliverer.run_once()
    await d.stop()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [*watchd_cmd, "incidents", *args, "--config", str(host.cfg)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=30)

    listed = json.loads(cli("list", "--json").stdout)
    assert [(i["id"], i["check"], i["priority"], i["status"]) for i in listed] == [
        (1, "switch", "P2", "open")
    ]
    assert cli("ack", "1", "--by", "alice", "--comment", "on it").returncode == 0
    assert cli("ack", "1").returncode == 1  # already acknowledged
    shown = json.loads(cli("show", "1", "--json").stdout)
    assert shown["acked_by"] == "alice"
    assert [e["action"] for e in shown["events"]] == ["open", "ack"]
    assert [(x["kind"], x["status"]) for x in shown["deliveries"]] == [
        ("open", "done"),
        ("update", "pending"),
    ]
    assert cli("resolve", "1").returncode == 0
    assert cli("resolve", "1").returncode == 1
    assert cli("show", "99").returncode == 1
    # The daemon delivers what the CLI queued.
    d2 = host.daemon()
    await d2.start()
    await d2.parts.deliverer.run_once()
    await d2.stop()
    assert query(host, "SELECT status FROM builtin_tickets") == [("resolved",)]


# -- kill -9 at every point --------------------------------------------------------------------------

OPEN_POINTS = ["persist.before_commit", "persist.after_commit", "outbox.before_deliver.open",
               "outbox.after_deliver.open"]  # fmt: skip
RESOLVE_POINTS = ["outbox.before_deliver.resolve", "outbox.after_deliver.resolve"]


def wait_for(predicate, what: str, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def start(host: Host, watchd_cmd: list[str], fault: str | None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "WATCHD_FAULT"}
    if fault:
        env["WATCHD_FAULT"] = fault
    log = (host.root / "log.jsonl").open("ab")
    return subprocess.Popen([*watchd_cmd, "run", "--config", str(host.cfg)], env=env, stdout=log, stderr=log)


def ticket_state(host: Host) -> tuple | None:
    rows = query(host, "SELECT status FROM builtin_tickets WHERE check_name = 'switch'")
    pending = query(host, "SELECT count(*) FROM outbox WHERE status = 'pending'")
    return (tuple(r[0] for r in rows), pending[0][0] if pending else None)


@pytest.mark.parametrize("point", OPEN_POINTS + RESOLVE_POINTS)
def test_kill_9_leaves_exactly_one_ticket(tmp_path: Path, watchd_cmd: list[str], point: str) -> None:
    """kill -9 at `point`, restart: exactly one incident and one builtin ticket, resolved at the end,
    with one 'open' and one 'resolve' note."""
    host = Host(tmp_path)
    host.set(2)
    proc = start(host, watchd_cmd, point)
    try:
        if point in RESOLVE_POINTS:
            wait_for(lambda: ticket_state(host) == (("open",), 0), "ticket opened")
            host.set(0)
        assert proc.wait(timeout=20) == -9, "the fault point was not reached"
        proc = start(host, watchd_cmd, None)
        wait_for(lambda: ticket_state(host) in ((("open",), 0), (("resolved",), 0)), "delivery after restart")
        host.set(0)
        wait_for(lambda: ticket_state(host) == (("resolved",), 0), "resolution")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert query(host, "SELECT count(*) FROM incidents") == [(1,)]
    assert query(host, "SELECT count(*) FROM builtin_tickets") == [(1,)]
    notes = [k for (k,) in query(host, "SELECT kind FROM builtin_ticket_notes ORDER BY op_id")]
    assert notes == ["open", "resolve"]
