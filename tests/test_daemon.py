"""The daemon end to end with real plugins: soft/hard/recovery, restart, reload, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from watchd import config
from watchd.core.model import State, StateType
from watchd.daemon import Daemon
from watchd.store import Store


class Host:
    """A temp config dir with a plugin whose exit code the test sets through a file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.code_file = root / "code"
        self.set(0)
        self.plugin = root / "check_switch"
        self.plugin.write_text(
            f'#!/bin/sh\nc=$(cat {self.code_file})\necho "SWITCH code $c | code=$c;1;2;0;3"\nexit $c\n'
        )
        self.plugin.chmod(0o755)
        self.config_path = root / "watchd.yaml"
        self.write_config()

    def set(self, code: int) -> None:
        self.code_file.write_text(str(code))

    def write_config(self, extra: str = "", interval: str = "1h", max_attempts: int = 3) -> None:
        self.config_path.write_text(
            f"""
data_dir: {self.root / "data"}
api: {{enabled: false}}
log: {{level: debug}}
defaults: {{interval: {interval}, retry_interval: 1h, max_attempts: {max_attempts}}}
checks:
  switch: {{command: [{self.plugin}]}}
{extra}"""
        )

    def daemon(self) -> Daemon:
        return Daemon(config.load(str(self.config_path)), str(self.config_path))


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def changes(logs: list[dict]) -> list[tuple[str, str]]:
    return [(e["kind"], e["state"]) for e in logs if e["event"] == "state change"]


async def test_soft_hard_recovery_with_a_real_plugin(host: Host) -> None:
    """Three failing runs confirm a hard CRITICAL; one OK run is a hard recovery; the log records it."""
    d = host.daemon()
    await d.start()
    try:
        with capture_logs() as logs:
            host.set(2)
            retry = [await d.run_check("switch") for _ in range(3)]
            host.set(0)
            await d.run_check("switch")
        assert retry == [True, True, False]
        assert changes(logs) == [
            ("soft_problem", "CRITICAL"),
            ("hard_problem", "CRITICAL"),
            ("hard_recovery", "OK"),
        ]
        logged = d.store.changes("switch")
        assert [c.kind for c in reversed(logged)] == ["soft_problem", "hard_problem", "hard_recovery"]
    finally:
        await d.stop()


async def test_restart_resumes_state_without_reannouncing(host: Host) -> None:
    """After a restart a known hard problem is resumed, not announced again; recovery still is."""
    d = host.daemon()
    await d.start()
    host.set(2)
    for _ in range(3):
        await d.run_check("switch")
    await d.stop()

    d2 = host.daemon()
    await d2.start()
    try:
        status = d2.parts.state.statuses["switch"]
        assert (status.state, status.state_type, status.attempt) == (State.CRITICAL, StateType.HARD, 3)
        with capture_logs() as logs:
            await d2.run_check("switch")
            host.set(0)
            await d2.run_check("switch")
        assert changes(logs) == [("hard_recovery", "OK")]
    finally:
        await d2.stop()


async def test_soft_attempts_survive_a_restart(host: Host) -> None:
    """Two soft attempts, restart, one more failure: hard at attempt 3, not a fresh attempt 1."""
    d = host.daemon()
    await d.start()
    host.set(1)
    await d.run_check("switch")
    await d.run_check("switch")
    await d.stop()
    d2 = host.daemon()
    await d2.start()
    try:
        with capture_logs() as logs:
            await d2.run_check("switch")
        assert changes(logs) == [("hard_problem", "WARNING")]
    finally:
        await d2.stop()


async def test_unchanged_status_is_written_behind(host: Host) -> None:
    """An OK result that changes nothing but the time is flushed in bulk, and is on disk after flush()."""
    d = host.daemon()
    await d.start()
    try:
        await d.run_check("switch")
        first = d.parts.state.statuses["switch"].last_check
        assert Store(d.config.db_path).load_statuses()["switch"].last_check == first  # new: written at once
        await d.run_check("switch")
        on_disk = Store(d.config.db_path).load_statuses()["switch"].last_check
        assert on_disk == first  # unchanged: not yet written
        d.flush()
        assert Store(d.config.db_path).load_statuses()["switch"].last_check > first
    finally:
        await d.stop()


async def test_reload_good_and_bad(host: Host) -> None:
    """A valid reload keeps unchanged checks' state and adds new ones; an invalid one changes nothing."""
    d = host.daemon()
    await d.start()
    try:
        host.set(2)
        await d.run_check("switch")
        host.write_config(extra="  extra: {command: [/bin/true]}\n")
        assert await d.reload() == []
        assert set(d.config.checks) == {"switch", "extra"}
        assert d.parts.state.statuses["switch"].attempt == 1
        assert d.parts.state.statuses["switch"].state is State.CRITICAL

        host.config_path.write_text("checks:\n  switch: {command: [/bin/true], interval: nope}\n")
        with capture_logs() as logs:
            errors = await d.reload()
        assert any("checks.switch.interval: expected a duration" in e for e in errors)
        assert set(d.config.checks) == {"switch", "extra"}
        assert [e["event"] for e in logs] == ["reload rejected; old config keeps running"]
    finally:
        await d.stop()


async def test_removed_check_is_forgotten(host: Host) -> None:
    """A check removed by a reload leaves the status table and is not scheduled any more."""
    host.write_config(extra="  extra: {command: [/bin/true]}\n")
    d = host.daemon()
    await d.start()
    try:
        await d.run_check("extra")
        host.write_config()
        await d.reload()
        assert "extra" not in d.parts.state.statuses
        assert "extra" not in Store(d.config.db_path).load_statuses()
        assert not d.scheduler.run_now("extra")
    finally:
        await d.stop()


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def log_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_signals_reload_and_graceful_stop(host: Host, watchd_cmd: list[str]) -> None:
    """As a process: SIGHUP reloads (a bad file is rejected); SIGTERM lets a running plugin finish."""
    slow = host.root / "check_slow"
    marker = host.root / "slow-finished"
    slow.write_text(f"#!/bin/sh\nsleep 0.5\ntouch {marker}\necho SLOW OK\n")
    slow.chmod(0o755)
    host.write_config(interval="0.2s", extra=f"  slow: {{command: [{slow}], interval: 0.2s}}\n")
    log = host.root / "log.jsonl"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*watchd_cmd, "run", "--config", str(host.config_path)], stderr=out, stdout=out
        )
    try:
        wait_for(lambda: any(e["event"] == "check result" for e in log_events(log)), what="first result")
        host.write_config(interval="0.2s", extra="  added: {command: [/bin/true]}\n")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any(e["event"] == "config reloaded" for e in log_events(log)), what="reload")
        host.config_path.write_text("checks: [broken\n")
        proc.send_signal(signal.SIGHUP)
        wait_for(
            lambda: any(e["event"].startswith("reload rejected") for e in log_events(log)), what="rejected"
        )
        host.write_config(interval="0.2s", extra=f"  slow: {{command: [{slow}], interval: 0.2s}}\n")
        proc.send_signal(signal.SIGHUP)
        reloads = lambda: sum(e["event"] == "config reloaded" for e in log_events(log))  # noqa: E731
        wait_for(lambda: reloads() == 2, what="second reload")
        # Stop while the slow plugin is running: it must be allowed to finish.
        wait_for(lambda: any(b"check_slow" in _read(p) for p in _pids()), what="slow plugin running")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert marker.exists()
        assert log_events(log)[-1]["event"] == "stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _pids() -> list[str]:
    return [p for p in os.listdir("/proc") if p.isdigit()]


def _read(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_store_writable_does_not_wait_long_for_a_held_lock(tmp_path: Path) -> None:
    """While another process holds the write lock, the health probe says 'not writable' quickly
    instead of stalling for the 5 s busy timeout; afterwards it is writable again."""
    path = str(tmp_path / "w.db")
    store = Store(path)
    holder = (
        "import sqlite3, sys, time; db = sqlite3.connect(sys.argv[1], isolation_level=None);"
        " db.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(30)"
    )
    other = subprocess.Popen([sys.executable, "-c", holder, path], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None
        assert other.stdout.readline().strip() == "locked"
        started = time.monotonic()
        assert store.writable() is False
        assert time.monotonic() - started < 2.0
    finally:
        other.kill()
        other.wait()
    assert store.writable() is True
    store.close()
