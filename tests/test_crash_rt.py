"""kill -9 at every point of an incident's life with a real Request Tracker 5 beside the builtin
store, and an RT outage: afterwards each incident has exactly one RT ticket (resolved) and one
builtin ticket.

`watchd run` is a subprocess; RT (tests/servers/rt.py, one instance for this module) is reached
through a small TCP proxy in the test, which can refuse connections (nothing listening) to play an
RT that is down.

The fault points are per kind, not per channel, and the builtin backend delivers without
suspending, so with `default: [builtin, helpdesk]` an `outbox.after_deliver.*` fault always fires
in the builtin channel first. The `rt-window` cases therefore let the builtin row go through while
RT is down, and arm the fault only for the run in which RT comes back: the crash then lands after
RT accepted the intent and before the outbox marked it done.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from servers.rt import RTServer, RTUnavailable, ensure_installed, free_port, start_rt

pytestmark = pytest.mark.slow

OPEN_POINTS = ["persist.before_commit", "persist.after_commit", "outbox.before_deliver.open",
               "outbox.after_deliver.open"]  # fmt: skip
RESOLVE_POINTS = ["outbox.before_deliver.resolve", "outbox.after_deliver.resolve"]
RT_WINDOW_POINTS = ["outbox.after_deliver.open", "outbox.after_deliver.resolve"]
CASES = [pytest.param(p, "builtin-first", id=p) for p in OPEN_POINTS + RESOLVE_POINTS] + [
    pytest.param(p, "rt-window", id=f"{p}-rt-window") for p in RT_WINDOW_POINTS
]
RT_CHANNEL = "ticket:helpdesk"


# -- RT and the proxy in front of it ----------------------------------------------------------------


@pytest.fixture(scope="module")
def rt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RTServer]:
    """One real RT 5 for the module (each case uses its own host name, so keys never collide)."""
    try:
        ensure_installed()
    except RTUnavailable as exc:
        pytest.skip(f"Request Tracker 5 could not be installed: {exc}")
    with start_rt(tmp_path_factory.mktemp("rt-crash")) as server:
        yield server


class Proxy:
    """127.0.0.1:<port> forwarding to RT. `down()` stops listening (connection refused) and cuts the
    open connections; `up()` listens again on the same port. Runs its own loop in a thread, as the
    tests that use it are synchronous."""

    def __init__(self, target: str) -> None:
        parsed = urllib.parse.urlsplit(target)
        self.target = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rt-proxy", daemon=True)
        self._thread.start()

    def up(self) -> None:
        self._call(self._up())

    def down(self) -> None:
        self._call(self._down())

    def close(self) -> None:
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _call(self, coro: Any) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _up(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = {writer, up_writer}
        self._writers |= pair

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:  # either side ending ends the pair (HTTP needs no half-close here)
                for w in pair:
                    w.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._writers -= pair


@pytest.fixture
def proxy(rt_server: RTServer) -> Iterator[Proxy]:
    p = Proxy(rt_server.url)
    p.up()
    yield p
    p.close()


def rt_call(server: RTServer, path: str, **params: str) -> Any:
    query = ("?" + urllib.parse.urlencode(params)) if params else ""
    request = urllib.request.Request(
        f"{server.rest}{path}{query}", headers={"Authorization": server.basic_auth()}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def rt_tickets(server: RTServer, key: str) -> list[dict[str, Any]]:
    """Every ticket (any status but deleted) whose WatchdKey is `key`: [{id, Status}], oldest first."""
    found = rt_call(
        server, "/tickets", query=f"CF.{{WatchdKey}} = '{key}'", orderby="id", per_page="100",
        fields="Status",
    )  # fmt: skip
    return [{"id": str(i["id"]), "Status": i["Status"]} for i in found["items"]]


def rt_history(server: RTServer, ticket_id: str) -> list[tuple[str, str]]:
    """(Type, NewValue) of the ticket's Create, Comment and Status transactions, in order."""
    items = rt_call(
        server, f"/ticket/{ticket_id}/history", per_page="100", fields="Type,NewValue", orderby="id"
    )["items"]
    return [(i["Type"], i["NewValue"]) for i in items if i["Type"] in ("Create", "Comment", "Status")]


# -- the monitored host ---------------------------------------------------------------------------


class RTHost:
    """A config with one plugin check whose exit code is a file, routed to builtin and RT (via proxy)."""

    def __init__(self, root: Path, name: str, rt: RTServer, proxy: Proxy) -> None:
        self.root = root
        self.name = name
        self.code = root / "code"
        self.code.write_text("0")
        plugin = root / "check_switch"
        plugin.write_text(f'#!/bin/sh\nc=$(cat {self.code})\necho "SWITCH code $c"\nexit $c\n')
        plugin.chmod(0o755)
        self.cfg = root / "watchd.yaml"
        self.cfg.write_text(
            f"host: {name}\ndata_dir: {root / 'data'}\napi: {{enabled: false}}\n"
            f"log: {{level: info, format: json}}\n"
            "defaults: {interval: 0.1s, retry_interval: 0.1s, max_attempts: 1, flap_detection: false}\n"
            f"checks:\n  switch: {{command: [{plugin}], impact: high}}\n"
            "tickets:\n"
            "  backends:\n"
            f"    helpdesk: {{type: rt, url: '{proxy.url}', queue: General, username: {rt.username},"
            f" password_file: {rt.password_file}, timeout: 5}}\n"
            "  default: [builtin, helpdesk]\n"
            "  base_backoff: 0.2s\n"
            "  max_backoff: 1s\n"
        )

    def key(self, incident_id: int = 1) -> str:
        return f"watchd-{self.name}-switch-{incident_id}"

    def set(self, code: int) -> None:
        self.code.write_text(str(code))

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        path = self.root / "data" / "watchd.db"
        if not path.exists():
            return []
        db = sqlite3.connect(path, timeout=5)
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # schema not created yet
            return []
        finally:
            db.close()

    def builtin(self) -> tuple[str, ...]:
        return tuple(s for (s,) in self.query("SELECT status FROM builtin_tickets ORDER BY incident_id"))

    def pending(self) -> int | None:
        rows = self.query("SELECT count(*) FROM outbox WHERE status = 'pending'")
        return rows[0][0] if rows else None

    def rows(self, channel: str) -> list[tuple[str, str, int]]:
        """(kind, status, attempts) of the channel's outbox rows, in id order."""
        return [
            (k, s, a)
            for k, s, a in self.query(
                "SELECT kind, status, attempts FROM outbox WHERE channel = ? ORDER BY id", channel
            )
        ]


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def start(host: RTHost, watchd_cmd: list[str], fault: str | None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "WATCHD_FAULT"}
    if fault:
        env["WATCHD_FAULT"] = fault
    log = (host.root / "log.jsonl").open("ab")
    return subprocess.Popen([*watchd_cmd, "run", "--config", str(host.cfg)], env=env, stdout=log, stderr=log)


def kill_9(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -9


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def settled(host: RTHost, *builtin: tuple[str, ...]) -> Callable[[], bool]:
    """Nothing pending and the builtin tickets in one of the given states."""
    return lambda: host.pending() == 0 and host.builtin() in builtin


def host_name(point: str, via: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", f"{via}-{point}")


def assert_one_resolved_incident_each(host: RTHost, rt: RTServer, incidents: int = 1) -> None:
    """Per incident: one builtin ticket and one RT ticket, resolved; RT saw create, one comment and
    one change to resolved, in that order; no outbox row left pending or failed."""
    assert host.query("SELECT status, count(*) FROM outbox GROUP BY status") == [("done", 4 * incidents)]
    assert host.query("SELECT count(*), min(status), max(status) FROM incidents") == [
        (incidents, "resolved", "resolved")
    ]
    assert host.builtin() == ("resolved",) * incidents
    for n in range(1, incidents + 1):
        notes = host.query("SELECT kind FROM builtin_ticket_notes WHERE key = ? ORDER BY op_id", host.key(n))
        assert [k for (k,) in notes] == ["open", "resolve"]
        tickets = rt_tickets(rt, host.key(n))
        assert len(tickets) == 1, f"RT tickets for {host.key(n)}: {tickets}"
        [t] = tickets
        assert t["Status"] == "resolved"
        assert rt_history(rt, t["id"]) == [("Create", ""), ("Comment", ""), ("Status", "resolved")]
        assert host.query(
            "SELECT ref FROM ticket_refs WHERE incident_id = ? AND channel = ?", n, RT_CHANNEL
        ) == [(t["id"],)]


# -- kill -9 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("point", "via"), CASES)
def test_kill_9_leaves_exactly_one_rt_ticket(
    rt_server: RTServer, proxy: Proxy, tmp_path: Path, watchd_cmd: list[str], point: str, via: str
) -> None:
    """kill -9 at `point`, restart, CRITICAL -> OK: one incident, one builtin and one RT ticket, both
    resolved, RT with exactly one resolve comment."""
    host = RTHost(tmp_path, host_name(point, via), rt_server, proxy)
    host.set(2)
    proc: subprocess.Popen[bytes] | None = None
    try:
        if via == "builtin-first":
            proc = start(host, watchd_cmd, point)
            if point in RESOLVE_POINTS:
                wait_for(settled(host, ("open",)), "both tickets opened")
                host.set(0)
            assert proc.wait(timeout=20) == -9, "the fault point was not reached"
        elif point == "outbox.after_deliver.open":
            proxy.down()
            proc = start(host, watchd_cmd, None)
            wait_for(lambda: host.rows(RT_CHANNEL) and host.rows(RT_CHANNEL)[0][2] > 0, "RT refused")
            assert host.builtin() == ("open",)
            kill_9(proc)
            proxy.up()
            proc = start(host, watchd_cmd, point)  # RT's open is the only row due
            assert proc.wait(timeout=20) == -9, "the fault point was not reached"
            assert len(rt_tickets(rt_server, host.key())) == 1  # RT has it, the outbox does not know
            assert host.rows(RT_CHANNEL)[0][:2] == ("open", "pending")
        else:  # outbox.after_deliver.resolve in RT's window
            proc = start(host, watchd_cmd, None)
            wait_for(settled(host, ("open",)), "both tickets opened")
            proxy.down()
            host.set(0)
            wait_for(
                lambda: len(host.rows(RT_CHANNEL)) == 2 and host.rows(RT_CHANNEL)[1][2] > 0, "RT refused"
            )
            assert host.builtin() == ("resolved",)
            kill_9(proc)
            proxy.up()
            proc = start(host, watchd_cmd, point)  # RT's resolve is the only row due
            assert proc.wait(timeout=20) == -9, "the fault point was not reached"
            assert [t["Status"] for t in rt_tickets(rt_server, host.key())] == ["resolved"]
            assert host.rows(RT_CHANNEL)[1][:2] == ("resolve", "pending")
        proc = start(host, watchd_cmd, None)
        wait_for(settled(host, ("open",), ("resolved",)), "delivery after restart")
        host.set(0)
        wait_for(settled(host, ("resolved",)), "resolution")
    finally:
        if proc is not None:
            stop(proc)
    assert_one_resolved_incident_each(host, rt_server)


# -- RT down, then up ---------------------------------------------------------------------------


def test_rt_down_then_up_delivers_everything_once_in_order(
    rt_server: RTServer, proxy: Proxy, tmp_path: Path, watchd_cmd: list[str]
) -> None:
    """Three incidents open and resolve while RT refuses connections; builtin has them at once. When
    RT comes back every intent arrives once, open before resolve: one resolved RT ticket each."""
    proxy.down()
    host = RTHost(tmp_path, "rt-outage", rt_server, proxy)
    proc = start(host, watchd_cmd, None)
    try:
        for n in range(1, 4):
            host.set(2)
            wait_for(lambda n=n: host.builtin() == ("resolved",) * (n - 1) + ("open",), f"incident {n}")
            host.set(0)
            wait_for(lambda n=n: host.builtin() == ("resolved",) * n, f"incident {n} resolved")
        wait_for(lambda: all(a > 0 for _, _, a in host.rows(RT_CHANNEL)[::2]), "RT refused every open")
        assert [(k, s) for k, s, _ in host.rows(RT_CHANNEL)] == [
            ("open", "pending"),
            ("resolve", "pending"),
        ] * 3
        assert proxy.accepted == 0
        assert all(rt_tickets(rt_server, host.key(n)) == [] for n in range(1, 4))
        proxy.up()
        wait_for(lambda: host.pending() == 0, "delivery once RT is back", timeout=30)
    finally:
        stop(proc)
    assert proxy.accepted > 0
    assert_one_resolved_incident_each(host, rt_server, incidents=3)
    done = host.query(
        "SELECT incident_id, kind, done_at FROM outbox WHERE channel = ? ORDER BY incident_id, id", RT_CHANNEL
    )
    for i in range(0, len(done), 2):
        (inc_a, kind_a, at_a), (inc_b, kind_b, at_b) = done[i], done[i + 1]
        assert (inc_a, kind_a, inc_b, kind_b) == (inc_a, "open", inc_a, "resolve")
        assert at_a <= at_b
