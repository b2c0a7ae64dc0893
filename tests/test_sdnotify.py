"""sd_notify client against a real datagram socket, and the watchdog gate."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from watchd.runtime.sdnotify import Health, Notifier, WatchdogGate, watchdog_interval, watchdog_loop


class Server:
    """What systemd does: a bound AF_UNIX datagram socket receiving notifications."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address if not address.startswith("@") else "\0" + address[1:])
        self.sock.settimeout(2)

    def recv(self) -> str:
        return self.sock.recv(4096).decode()

    def pending(self) -> list[str]:
        self.sock.setblocking(False)
        out = []
        try:
            while True:
                out.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            return out
        finally:
            self.sock.settimeout(2)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(str(tmp_path / "notify.sock"))
    yield s
    s.sock.close()


@pytest.fixture
def abstract_server() -> Iterator[Server]:
    s = Server(f"@watchd-test-{uuid.uuid4().hex}")
    yield s
    s.sock.close()


def test_messages_over_a_path_socket(server: Server) -> None:
    """ready/status/stopping/watchdog send the documented KEY=value lines."""
    n = Notifier(server.address)
    assert n.enabled
    assert n.ready("12 checks")
    assert server.recv() == "READY=1\nSTATUS=12 checks"
    assert n.status("draining")
    assert server.recv() == "STATUS=draining"
    assert n.watchdog()
    assert server.recv() == "WATCHDOG=1"
    assert n.stopping()
    assert server.recv() == "STOPPING=1"
    assert n.extend_timeout(1.5)
    assert server.recv() == "EXTEND_TIMEOUT_USEC=1500000"
    n.close()


def test_abstract_socket(abstract_server: Server) -> None:
    """`@name` addresses the abstract namespace."""
    n = Notifier(abstract_server.address)
    assert n.ready()
    assert abstract_server.recv() == "READY=1"


def test_reloading_carries_monotonic_usec(server: Server) -> None:
    """RELOADING=1 comes with CLOCK_MONOTONIC in microseconds, as systemd >= 253 requires."""
    n = Notifier(server.address)
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    n.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    head, usec = server.recv().split("\nMONOTONIC_USEC=")
    assert head == "RELOADING=1"
    assert before <= int(usec) <= after
    n.reloading(monotonic_usec=42)
    assert server.recv() == "RELOADING=1\nMONOTONIC_USEC=42"


def test_newline_cannot_inject_fields(server: Server) -> None:
    """A newline in a status text would add an assignment; it is flattened."""
    Notifier(server.address).status("ok\nREADY=1")
    assert server.recv() == "STATUS=ok READY=1"


def test_from_env_and_unset() -> None:
    """from_env reads NOTIFY_SOCKET and the watchdog variables, then removes them for child processes."""
    env = {
        "NOTIFY_SOCKET": "@x",
        "WATCHDOG_USEC": "30000000",
        "WATCHDOG_PID": str(os.getpid()),
        "PATH": "/bin",
    }
    n = Notifier.from_env(env)
    assert n.enabled
    assert n.watchdog_interval() == 30.0
    assert env == {"PATH": "/bin"}
    kept = {"NOTIFY_SOCKET": "@x"}
    Notifier.from_env(kept, unset=False)
    assert kept == {"NOTIFY_SOCKET": "@x"}


@pytest.mark.parametrize(
    ("env", "interval"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "MINE"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
    ids=["unset", "no pid given", "our pid", "someone else's pid", "zero", "garbage"],
)
def test_watchdog_interval(env: dict[str, str], interval: float | None) -> None:
    """The watchdog is ours only with a positive WATCHDOG_USEC and, if set, our WATCHDOG_PID."""
    env = {k: str(os.getpid()) if v == "MINE" else v for k, v in env.items()}
    assert watchdog_interval(env, os.getpid()) == interval


def test_disabled_is_a_noop() -> None:
    """Without NOTIFY_SOCKET nothing is sent and nothing fails."""
    n = Notifier.from_env({})
    assert not n.enabled
    assert not n.ready()
    assert n.watchdog_interval() is None


def test_unsupported_address_disables() -> None:
    """vsock: and relative addresses are refused with a warning instead of failing later."""
    with capture_logs() as logs:
        n = Notifier("vsock:2:1234")
    assert not n.enabled
    assert logs[0]["log_level"] == "warning"


def test_send_failure_is_logged_once_and_recovers(tmp_path: Path) -> None:
    """A missing socket never raises; the failure is logged once, the recovery once."""
    path = str(tmp_path / "later.sock")
    n = Notifier(path)
    with capture_logs() as logs:
        assert not n.watchdog()
        assert not n.watchdog()
        server = Server(path)
        assert n.watchdog()
        assert n.watchdog()
    server.sock.close()
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("sd_notify failed", "warning"),
        ("sd_notify works again", "info"),
    ]


def test_never_blocks_on_a_full_queue(server: Server) -> None:
    """When the receiver stops reading, sends fail fast (EAGAIN) instead of blocking the event loop."""
    n = Notifier(server.address)
    started = time.monotonic()
    with capture_logs():
        results = [n.watchdog() for _ in range(5000)]
    assert time.monotonic() - started < 5
    assert results[0] is True
    assert False in results
    assert len(server.pending()) == results.count(True)


@pytest.mark.parametrize(
    ("feed", "now", "health"),
    [
        ([("loop", 100.0, 0.01), ("sched", 99.0, 0.0)], 101.0, Health.OK),
        ([("loop", 100.0, 0.01)], 140.0, Health.LOOP_STALLED),
        ([("loop", 100.0, 3.0)], 101.0, Health.LOOP_LAGGING),
        ([("loop", 199.0, 0.01), ("sched", 50.0, 0.0)], 200.0, Health.SCHEDULER_STALLED),
        ([("loop", 100.0, 0.01)], 101.0, Health.OK),
        ([("loop", 200.0, 0.01)], 200.5, Health.SCHEDULER_STALLED),
        ([("loop", 100.0, 0.01), ("sched", 0.0, 0.0)], 101.0, Health.OK),
        ([], 5.0, Health.OK),
        ([], 30.0, Health.LOOP_STALLED),
    ],
    ids=[
        "healthy",
        "loop stopped reporting",
        "loop lagging",
        "scheduler stuck",
        "scheduler not yet due, within idle limit of start",
        "scheduler never ticked since start",
        "a tick from before start is ignored",
        "just started",
        "never got going",
    ],
)
def test_watchdog_gate(feed: list[tuple[str, float, float]], now: float, health: Health) -> None:
    """The gate feeds the watchdog only while the loop is punctual and the scheduler progresses."""
    gate = WatchdogGate(started=0.0, max_lag=1.0, max_stall=20.0, max_scheduler_idle=120.0)
    for kind, at, lag in feed:
        if kind == "loop":
            gate.loop_tick(at, lag)
        else:
            gate.scheduler_progress(at)
    assert gate.check(now) is health


def test_gate_without_scheduler_criterion() -> None:
    """max_scheduler_idle=None judges the loop only."""
    gate = WatchdogGate(started=0.0, max_lag=1.0, max_stall=20.0)
    gate.loop_tick(1000.0, 0.0)
    assert gate.check(1001.0) is Health.OK


async def test_watchdog_loop_pings_only_while_healthy(server: Server) -> None:
    """watchdog_loop sends WATCHDOG=1 while the scheduler progresses, and stops when it stalls."""
    n = Notifier(server.address)
    progress: list[float | None] = [None]
    gate = WatchdogGate(started=time.monotonic(), max_lag=0.5, max_stall=5.0, max_scheduler_idle=0.05)
    task = asyncio.create_task(watchdog_loop(n, gate, 0.01, progress=lambda: progress[0]))
    try:
        for _ in range(200):  # keep the scheduler "ticking" until a ping has arrived
            progress[0] = time.monotonic()
            await asyncio.sleep(0.01)
            if server.pending():
                break
        else:
            pytest.fail("no WATCHDOG=1 while healthy")
        await asyncio.sleep(0.15)  # scheduler idle for longer than max_scheduler_idle
        server.pending()  # drop pings sent before the gate noticed
        await asyncio.sleep(0.1)
        assert server.pending() == []
        assert gate.check(time.monotonic()) is Health.SCHEDULER_STALLED
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
