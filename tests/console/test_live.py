"""The console on a real broker with real watchd hosts: the live view, its history, and a console that
restarts rebuilding the same view from retained messages alone."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from servers.mosquitto import Mosquitto
from watchd.console import dashboard, subscriber
from watchd.console.view import HostView

from .fleetkit import host_config, set_code, start_console, start_host, until

pytestmark = pytest.mark.slow
no_host = HostView("-")


async def test_console_sees_the_fleet_and_rebuilds_it_after_a_restart(
    tmp_path: Path, broker: Mosquitto
) -> None:
    web = await start_host(tmp_path / "web-1", "web-1", broker.port, {"http": 0})
    db = await start_host(tmp_path / "db-1", "db-1", broker.port, {"mysql": 0, "disk": 1})
    console = await start_console(tmp_path / "console", broker.port)
    try:
        view = console.view
        await until(
            lambda: (
                {"mysql", "disk"} <= set(view.hosts.get("db-1", no_host).checks) and "web-1" in view.hosts
            ),
            message="the hosts' checks never arrived",
        )
        assert view.hosts["db-1"].checks["disk"].hard_state == "WARNING"
        assert view.hosts["web-1"].online is True
        set_code(tmp_path / "db-1", "mysql", 2)
        await until(
            lambda: view.hosts["db-1"].checks["mysql"].hard_state == "CRITICAL", message="no CRITICAL"
        )
        await until(lambda: view.hosts["db-1"].incidents, message="the open incident never arrived")
        console.history.flush()
        rows = console.db.execute(
            "SELECT hard_state FROM state_changes WHERE host = 'db-1' AND check_name = 'mysql' ORDER BY at"
        ).fetchall()
        assert rows[-1] == ("CRITICAL",)
        assert ("OK",) in rows
        await until(
            lambda: (
                console.history.flush()
                or console.db.execute(
                    "SELECT count(*) FROM samples s JOIN series x ON x.id = s.series WHERE x.host = 'web-1'"
                    " AND x.label = 'load'"
                ).fetchone()[0]
                >= 1
            ),
            message="no perfdata sample",
        )
        unit = console.db.execute(
            "SELECT uom, warn, crit FROM series WHERE label = 'time' LIMIT 1"
        ).fetchone()
        assert unit == ("s", None, None)
        assert console.db.execute(
            "SELECT warn, crit FROM series WHERE label = 'load' LIMIT 1"
        ).fetchone() == (1, 2)
    finally:
        await console.stop()
        await web.stop()
        await db.stop()

    # Every host is stopped: nothing but retained messages is left on the broker.
    again = await start_console(tmp_path / "console", broker.port)
    try:
        view = again.view
        await until(lambda: again.subscriber.synced.is_set(), message="never synced")
        assert set(view.hosts) == {"web-1", "db-1"}
        assert {c: v.hard_state for c, v in view.hosts["db-1"].checks.items()} == {
            "mysql": "CRITICAL",
            "disk": "WARNING",
        }
        assert view.hosts["web-1"].online is False
        assert view.hosts["web-1"].reason == "shutdown"
        assert not view.hosts["web-1"].silent(again.now(), 3, 1.0), "a clean stop is not silence"
    finally:
        await again.stop()


async def test_a_killed_host_goes_silent_and_two_consoles_show_the_same_view(
    tmp_path: Path, broker: Mosquitto
) -> None:
    cfg = host_config(tmp_path / "web-9", "web-9", broker.port, {"http": 0})
    log = (tmp_path / "web-9.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "watchd", "run", "--config", str(cfg), stdout=log, stderr=log
    )
    db = await start_host(tmp_path / "db-1", "db-1", broker.port, {"mysql": 2})
    one = await start_console(tmp_path / "one", broker.port)
    two = await start_console(tmp_path / "two", broker.port)
    try:
        for c in (one, two):
            await until(
                lambda c=c: "http" in c.view.hosts.get("web-9", no_host).checks
                and c.view.hosts.get("db-1", no_host).incidents,
                timeout=30,
                message="the consoles never saw both hosts",
            )
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
        for c in (one, two):
            await until(lambda c=c: c.view.hosts["web-9"].silent(c.now(), 3, 1.0), message="never silent")
            assert c.view.hosts["web-9"].reason == "connection lost"

        def summary(c: Any) -> dict[str, Any]:
            out = {}
            for h in c.view:
                states = {k: v.hard_state for k, v in h.checks.items()}
                out[h.name] = (h.online, h.reason, sorted(h.incidents), states)
            return out

        assert summary(one) == summary(two)
        board = dashboard.build(one.view, one.console.owners, one.now())
        assert [h.name for h in board.silent] == ["web-9"]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await one.stop()
        await two.stop()
        await db.stop()


async def test_resync_fills_a_broker_without_retained_state_and_closes_what_was_resolved_meanwhile(
    tmp_path: Path, broker: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like RabbitMQ, which hands no retained messages to a `#` subscription: the retained store is
    wiped under running hosts, and a console that asks for a resync still gets every state. An
    incident history holds as open that was resolved while the console was away is closed."""
    monkeypatch.setattr(subscriber, "RESYNC_SETTLE", 3.0)
    db = await start_host(tmp_path / "db-1", "db-1", broker.port, {"mysql": 2, "disk": 0})
    first = await start_console(tmp_path / "console", broker.port, console="resync: false")
    try:
        await until(lambda: first.view.hosts.get("db-1", no_host).incidents, message="no incident")
        first.history.flush()
    finally:
        await first.stop()
    set_code(tmp_path / "db-1", "mysql", 0)  # resolved while no console looks
    await until(lambda: not db.store.db.execute("SELECT 1 FROM incidents WHERE status = 'open'").fetchone())
    async with aiomqtt.Client("127.0.0.1", broker.port) as wiper:
        for topic in ("watchd/db-1/check/mysql/state", "watchd/db-1/check/disk/state", "watchd/db-1/status"):
            await wiper.publish(topic, b"", qos=1, retain=True)  # the broker forgets them
    blind = await start_console(tmp_path / "blind", broker.port, console="resync: false")
    await until(blind.subscriber.synced.is_set)
    # The control case: without a resync (and nothing retained) a console cannot know the states (the
    # disk check never changes; mysql's recovery may still be on its way to the broker, live).
    assert "disk" not in blind.view.hosts.get("db-1", no_host).checks
    again = await start_console(tmp_path / "console", broker.port)
    try:
        await until(lambda: {"mysql", "disk"} <= set(again.view.hosts.get("db-1", no_host).checks),
                    message="the resync never brought the states")  # fmt: skip
        assert again.view.hosts["db-1"].checks["mysql"].hard_state == "OK"

        def open_in_history() -> list[tuple[int]]:
            return again.db.execute("SELECT id FROM incidents WHERE resolved_at IS NULL").fetchall()

        await until(lambda: not open_in_history(), message="the incident resolved meanwhile stayed open")
    finally:
        await again.stop()
        await blind.stop()
        await db.stop()


async def test_a_retained_set_larger_than_the_brokers_queue_arrives_whole(
    tmp_path: Path, broker: Mosquitto
) -> None:
    """mosquitto holds back QoS 1 messages beyond 1,000 per client (max_queued_messages): a console
    subscribing at QoS 1 would silently get the first thousand checks of a fleet and no more."""
    states = 1500
    async with aiomqtt.Client("127.0.0.1", broker.port) as host:
        for i in range(states):
            doc = json.dumps({
                "schema": "watchd.state/v1", "host": "big", "check": f"c{i}", "hard_state": "OK",
                "state": "OK", "state_type": "hard", "attempt": 1, "summary": "fine",
            })  # fmt: skip
            await host.publish(f"watchd/big/check/c{i}/state", doc, qos=1, retain=True)
    console = await start_console(tmp_path / "console", broker.port, console="resync: false")
    try:
        await until(console.subscriber.synced.is_set, message="never synced")
        assert len(console.view.hosts["big"].checks) == states
    finally:
        await console.stop()
