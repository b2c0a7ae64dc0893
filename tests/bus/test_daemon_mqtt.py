"""The real daemon on a real broker: retained status and state, the last will on kill -9, incidents
and contact notifications on the bus, and a fleet peer that dies becoming an ordinary incident."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from servers.mosquitto import Mosquitto
from watchd import config
from watchd.daemon import Daemon

pytestmark = pytest.mark.slow


def write_config(root: Path, host: str, port: int, extra: str = "", peers: str = "none") -> Path:
    plugin = root / "check_switch"
    code = root / "code"
    if not code.exists():
        code.write_text("0")
    plugin.write_text(f'#!/bin/sh\nc=$(cat {code})\necho "SWITCH code $c"\nexit $c\n')
    plugin.chmod(0o755)
    cfg = root / "watchd.yaml"
    cfg.write_text(
        f"host: {host}\ndata_dir: {root / 'data'}\napi: {{enabled: false}}\n"
        "log: {level: info, format: json}\n"
        "defaults: {interval: 0.2s, retry_interval: 0.2s, max_attempts: 1}\n"
        f"mqtt: {{host: 127.0.0.1, port: {port}, heartbeat_interval: 1s, reconnect: {{min: 0.1s, max: 1s}},"
        f" peers: {peers}}}\n"
        f"checks:\n  switch: {{command: [{plugin}], notify: [ops]}}\n"
        "contacts:\n  ops: {kind: oncall, mqtt: true}\n"
        f"{extra}"
    )
    return cfg


async def test_daemon_publishes_and_its_will_says_offline(
    tmp_path: Path, broker: Mosquitto, collector
) -> None:
    """`watchd run`: status online (retained), the check's state (retained), an incident and the
    on-call notification on the bus; after kill -9 the broker publishes the will: offline."""
    cfg = write_config(tmp_path, "web01", broker.port)
    (tmp_path / "code").write_text("2")
    log = (tmp_path / "log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "watchd", "run", "--config", str(cfg), stdout=log, stderr=log
    )
    try:
        async with collector("watchd/web01/#") as c:
            status = await c.wait_for(lambda m: m.topic.value == "watchd/web01/status", timeout=15)
            assert json.loads(status[0].payload)["status"] == "online"
            state = await c.wait_for(lambda m: m.topic.value == "watchd/web01/check/switch/state", timeout=15)
            assert json.loads(state[-1].payload)["state"] == "CRITICAL"
            incident = await c.wait_for(
                lambda m: m.topic.value.startswith("watchd/web01/incident/"), timeout=15
            )
            assert json.loads(incident[0].payload)["action"] == "open"
            note = await c.wait_for(lambda m: m.topic.value == "watchd/web01/notify/ops", timeout=15)
            body = json.loads(note[0].payload)
            assert (body["schema"], body["event"]) == ("watchd.notification/v1", "open")
            assert "PROBLEM: switch on web01 is CRITICAL" in body["text"]
            os.kill(proc.pid, signal.SIGKILL)
            await asyncio.wait_for(proc.wait(), 10)
            await c.wait_for(
                lambda m: (
                    m.topic.value == "watchd/web01/status" and json.loads(m.payload)["status"] == "offline"
                ),
                timeout=15,
            )
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_silent_peer_becomes_one_incident(tmp_path: Path, broker: Mosquitto) -> None:
    """Two daemons watch a third; the third dies (its will): exactly one fleet incident between them,
    opened like any other incident (builtin ticket)."""
    watchers = []
    for name in ("alpha", "beta"):
        root = tmp_path / name
        root.mkdir()
        cfg = write_config(root, name, broker.port, peers="all")
        watchers.append(Daemon(config.load(str(cfg)), str(cfg)))
    peer_root = tmp_path / "gamma"
    peer_root.mkdir()
    peer_cfg = write_config(peer_root, "gamma", broker.port)
    log = (peer_root / "log").open("wb")
    peer = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "watchd", "run", "--config", str(peer_cfg), stdout=log, stderr=log
    )
    for d in watchers:
        await d.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        # Both watchers have seen the peer alive, and each other (the election needs both).
        while not all(
            {"gamma", "alpha", "beta"} - {d.config.host} <= set(d.bus.fleet.views) for d in watchers
        ):
            assert loop.time() < deadline, "watchers never saw the peer"
            await asyncio.sleep(0.1)
        os.kill(peer.pid, signal.SIGKILL)
        await asyncio.wait_for(peer.wait(), 10)

        def opened() -> list[tuple[str, str]]:
            out = []
            for d in watchers:
                rows = d.store.db.execute(
                    "SELECT check_name, status FROM incidents WHERE check_name = 'fleet.gamma'"
                ).fetchall()
                out += [(d.config.host, *r) for r in rows]
            return out

        deadline = loop.time() + 20
        while not opened():
            assert loop.time() < deadline, "no incident for the dead peer"
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)  # the other watcher must not follow: give it time to (wrongly) report
        assert len(opened()) == 1
        host = opened()[0][0]
        d = next(w for w in watchers if w.config.host == host)
        await d.parts.deliverer.run_once()
        assert d.store.db.execute("SELECT check_name, status FROM builtin_tickets").fetchall() == [
            ("fleet.gamma", "open")
        ]
    finally:
        if peer.returncode is None:
            peer.kill()
            await peer.wait()
        for d in watchers:
            await d.stop()


def outbox(root: Path, channel: str) -> list[tuple[str, str, int]]:
    """(kind, status, attempts) of the channel's outbox rows, read from outside the daemon."""
    import sqlite3

    path = root / "data" / "watchd.db"
    if not path.exists():
        return []
    db = sqlite3.connect(path, timeout=5)
    try:
        return db.execute(
            "SELECT kind, status, attempts FROM outbox WHERE channel = ? ORDER BY id", (channel,)
        ).fetchall()
    except sqlite3.OperationalError:  # no schema yet
        return []
    finally:
        db.close()


async def test_mqtt_notification_survives_kill_9_while_the_broker_is_down(
    tmp_path: Path, broker: Mosquitto, collector
) -> None:
    """A contact notification is delivered only once the broker has taken it (PUBACK), not when it
    is queued in memory: with the broker down it stays pending, so a kill -9 then loses nothing and
    the next daemon publishes it once the broker is back."""
    cfg = write_config(tmp_path, "web01", broker.port)
    log = (tmp_path / "log").open("wb")

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "watchd", "run", "--config", str(cfg), stdout=log, stderr=log
        )

    proc = await start()
    try:
        async with collector("watchd/web01/status") as c:
            await c.wait_for(lambda m: json.loads(m.payload)["status"] == "online", timeout=15)
        broker.stop()
        (tmp_path / "code").write_text("2")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        # One attempt ends: done (queued in memory, the old lie) or to be retried (the broker is away).
        while not [r for r in outbox(tmp_path, "notify:ops:mqtt") if r[1] == "done" or r[2] > 0]:
            assert loop.time() < deadline, "no delivery attempt"
            await asyncio.sleep(0.05)
        assert [r[:2] for r in outbox(tmp_path, "notify:ops:mqtt")] == [("open", "pending")]
        proc.kill()
        await proc.wait()
        broker.start()
        async with collector("watchd/web01/notify/ops") as c:
            proc = await start()
            note = await c.wait_for(lambda m: True, timeout=20)
            assert json.loads(note[0].payload)["event"] == "open"
        deadline = loop.time() + 10
        while [r[:2] for r in outbox(tmp_path, "notify:ops:mqtt")] != [("open", "done")]:
            assert loop.time() < deadline, outbox(tmp_path, "notify:ops:mqtt")
            await asyncio.sleep(0.05)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
