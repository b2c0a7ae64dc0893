"""Plugins whose children escape: `setsid`, double forks, daemons that close or keep the pipes, an
environment cleared. watchd is the child subreaper, so after each run (and its sweep) nothing the
plugin started is left running and no zombie is left behind, and the result says what was killed."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from watchd.core.model import State
from watchd.sources import reaper
from watchd.sources.plugin import BASE_ENV, PluginSource, interpret
from watchd.sources.process import ProcessOutcome

PY = sys.executable


def tagged(marker: str) -> list[int]:
    """PIDs of live processes whose command line contains marker."""
    found = []
    for p in reaper.snapshot().values():
        try:
            cmdline = Path(f"/proc/{p.pid}/cmdline").read_bytes()
        except OSError:
            continue
        if p.state != "Z" and marker.encode() in cmdline:
            found.append(p.pid)
    return found


def our_zombies() -> set[int]:
    """Zombie children of this (test) process."""
    me = os.getpid()
    return {p.pid for p in reaper.snapshot().values() if p.ppid == me and p.state == "Z"}


def wait_gone(pids: list[int], timeout: float = 5.0) -> None:
    """Block until each pid has exited (its pidfd turns readable), at most `timeout` overall."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        finally:
            os.close(fd)


@pytest.fixture
def marker() -> str:
    """A token unique to the test, put in every command line of the plugin's tree (as a sleep length)."""
    return f"300.{os.getpid()}{time.monotonic_ns() % 10**9:09d}"


@pytest.fixture
def no_leak(marker: str) -> Iterator[None]:
    """After the test: no process with the marker alive, and no new zombie child of ours."""
    before = our_zombies()
    yield
    assert tagged(marker) == [], "processes the plugin started are still running"
    assert our_zombies() - before == set(), "zombies were left behind"


def setsid_child_shell(m: str) -> str:
    return f"#!/bin/sh\nsetsid sh -c 'trap \"\" TERM; sleep {m}; :' &\necho working\nsleep {m}\n"


def setsid_child_python(m: str) -> str:
    return (
        f"#!{PY}\nimport os, signal, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    os.execvp('sleep', ['sleep', '{m}'])\n"
        "print('working', flush=True)\ntime.sleep(300)\n"
    )


@pytest.mark.parametrize(
    "body", [setsid_child_shell, setsid_child_python], ids=["sh-setsid-ignores-term", "python-setsid"]
)
async def test_timeout_kills_children_that_left_the_session(
    script: Callable[[str, str], str], marker: str, no_leak: None, body: Callable[[str], str]
) -> None:
    """A plugin whose child called setsid() and sleeps on: at the timeout the child dies too (it is
    outside the process group), and the reason names it among the killed."""
    path = script("escape", body(marker))
    started = time.monotonic()
    result = await PluginSource("t", (path,), dict(BASE_ENV), kill_grace=0.3).run(0.5)
    assert time.monotonic() - started < 5
    assert result.state is State.CRITICAL
    assert result.reason is not None
    assert "timed out after 0.5s" in result.reason
    assert "sleep" in result.reason.split("killed", 1)[1]
    assert "could not" not in result.reason


def double_fork(m: str, keep_pipes: bool) -> str:
    """A plugin that daemonises a grandchild the classic way (fork, setsid, fork) and exits 0."""
    detach = "" if keep_pipes else (
        "    null = os.open('/dev/null', os.O_RDWR)\n"
        "    for fd in (0, 1, 2):\n"
        "        os.dup2(null, fd)\n"
    )  # fmt: skip
    return (
        f"#!{PY}\nimport os, sys\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.setsid()\n"
        "    if os.fork():\n"
        "        os._exit(0)\n"
        f"{detach}"
        f"    os.execvp('sleep', ['sleep', '{m}'])\n"
        "os.waitpid(pid, 0)\n"
        "print('OK - daemon started')\n"
    )


async def test_daemonised_grandchild_holding_pipes_is_killed(
    script: Callable[[str, str], str], marker: str, no_leak: None
) -> None:
    """A double-forked grandchild that keeps stdout: the run ends about a second after the plugin
    exits, OK with the plugin's own output, and the grandchild is killed and reaped."""
    path = script("daemonise", double_fork(marker, keep_pipes=True))
    started = time.monotonic()
    result = await PluginSource("t", (path,), dict(BASE_ENV)).run(30)
    assert time.monotonic() - started < 5
    assert result.state is State.OK
    assert result.summary == "OK - daemon started"
    assert result.reason is not None
    assert "left 1 process running after it exited" in result.reason
    assert "sleep); killed" in result.reason


async def test_daemonised_grandchild_not_holding_pipes_is_killed_by_the_sweep(
    script: Callable[[str, str], str], marker: str, no_leak: None
) -> None:
    """A double-forked grandchild on /dev/null: the plugin's result is clean and immediate; the next
    sweep kills the grandchild, the one after reaps it."""
    path = script("daemonise", double_fork(marker, keep_pipes=False))
    result = await PluginSource("t", (path,), dict(BASE_ENV)).run(30)
    assert (result.state, result.summary, result.reason) == (State.OK, "OK - daemon started", None)
    me = os.getpid()
    ours = [p for p in reaper.snapshot().values() if p.ppid == me and p.state != "Z"]
    left = [p.pid for p in ours if (reaper.run_marker(p.pid) or "").startswith(f"{me}.")]
    assert len(left) == 1, "the grandchild (re-parented to us) should be running until the sweep"
    reaper.sweep()  # kills it (and reaps it, if it died at once)
    wait_gone(left)
    assert reaper.sweep() is False


async def test_background_child_in_group_is_killed_at_exit(
    script: Callable[[str, str], str], marker: str, no_leak: None
) -> None:
    """A plain `cmd >/dev/null &` left in the plugin's process group is found at exit (one killpg
    probe), killed and named in the reason."""
    path = script("bg", f"#!/bin/sh\nsleep {marker} >/dev/null 2>&1 &\necho 'OK - bg'\n")
    result = await PluginSource("t", (path,), dict(BASE_ENV)).run(30)
    assert result.state is State.OK
    assert result.reason is not None
    assert "left 1 process running after it exited" in result.reason


async def test_zombie_left_in_group_is_reaped_not_reported(
    script: Callable[[str, str], str], no_leak: None
) -> None:
    """A plugin that exits without waiting for a child that had already exited leaves a zombie in its
    group: it is reaped, and the result does not claim anything was killed."""
    body = (
        f"#!{PY}\nimport os\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0)\n"
        "os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped\n"
        "print('OK - quick')\n"
    )
    result = await PluginSource("t", (script("zombie", body),), dict(BASE_ENV)).run(30)
    assert (result.state, result.summary, result.reason) == (State.OK, "OK - quick", None)


def test_daemon_adopts_orphans_that_cleared_their_environment(tmp_path: Path, marker: str) -> None:
    """In the daemon (adopt mode), an orphan that left the session *and* cleared its environment is
    killed by the sweep once its run has ended. Run in a child process: adopt mode claims every
    child outside the process group, which a test runner must not."""
    plugin = tmp_path / "envclear"
    plugin.write_text(double_fork(marker, keep_pipes=False).replace(
        f"os.execvp('sleep', ['sleep', '{marker}'])", f"os.execve('/bin/sleep', ['sleep', '{marker}'], {{}})"
    ))  # fmt: skip
    plugin.chmod(0o755)
    driver = (
        "import asyncio, os, select, sys\n"
        "from watchd.sources import reaper\n"
        "from watchd.sources.plugin import BASE_ENV, PluginSource\n"
        "reaper.adopt_orphans()\n"
        f"r = asyncio.run(PluginSource('t', ({str(plugin)!r},), dict(BASE_ENV)).run(30))\n"
        "me = os.getpid()\n"
        "kids = [p for p in reaper.snapshot().values() if p.ppid == me and p.state != 'Z']\n"
        "fds = [os.pidfd_open(p.pid) for p in kids]\n"
        "reaper.sweep()\n"
        "select.select(fds, [], [], 5)\n"
        "reaper.sweep()\n"
        "left = [p for p in reaper.snapshot().values() if p.ppid == me]\n"
        "print(r.state.name, len(kids), len(left))\n"
    )
    out = subprocess.run([PY, "-c", driver], capture_output=True, text=True, timeout=60, check=True)
    *logs, last = out.stdout.splitlines()
    assert last.split() == ["OK", "1", "0"], out.stderr
    assert "killed processes a plugin left running after it exited" in "".join(logs)
    assert tagged(marker) == []


@pytest.mark.parametrize(
    ("timed_out", "leftovers", "killed", "not_killed", "expected"),
    [
        (True, False, (), (), "plugin timed out after 2s; killed it"),
        (True, False, ("7 sleep",), (), "plugin timed out after 2s; killed it and 1 process it started"
                                           " (7 sleep)"),
        (True, False, (), ("9 ping (Operation not permitted)",),
         "plugin timed out after 2s; killed it; could not kill 9 ping (Operation not permitted)"),
        (False, True, ("7 sh", "8 sleep"), (),
         "plugin left 2 processes running after it exited (7 sh, 8 sleep); killed"),
        (False, True, (), ("9 ping (Operation not permitted)",),
         "plugin left 1 process running after it exited; could not kill 9 ping (Operation not permitted)"),
        (True, False, ("7 sleep",), ("the plugin itself (Operation not permitted)",),
         "plugin timed out after 2s; killed 1 process it started (7 sleep); could not kill the plugin itself"
         " (Operation not permitted)"),
    ],
    ids=["timeout", "timeout-child", "timeout-unkillable", "leftovers", "leftovers-unkillable",
         "timeout-plugin-unkillable"],
)  # fmt: skip
def test_reason_says_what_was_and_was_not_killed(
    timed_out: bool, leftovers: bool, killed: tuple[str, ...], not_killed: tuple[str, ...], expected: str
) -> None:
    """The reason names what was killed and, separately, what could not be."""
    outcome = ProcessOutcome(
        b"OK\n", b"", None if timed_out else 0, None, 1.0, timed_out,
        leftovers_killed=leftovers, killed=killed, not_killed=not_killed,
    )  # fmt: skip
    result = interpret("t", outcome, 2.0, State.CRITICAL, 0.0, 65536)
    assert result.reason == expected


@pytest.mark.parametrize(
    ("text", "pid", "comm", "state", "ppid", "pgid", "sid"),
    [
        ("42 (sleep) S 1 42 42 0 -1 4194304 " + "0 " * 12 + "123 0", 42, "sleep", "S", 1, 42, 42),
        ("7 (a b) c)) Z 3 5 6 0 -1 4194304 " + "0 " * 12 + "99 0", 7, "a b) c)", "Z", 3, 5, 6),
    ],
    ids=["plain", "comm-with-parens-and-spaces"],
)
def test_parse_stat(text: str, pid: int, comm: str, state: str, ppid: int, pgid: int, sid: int) -> None:
    """/proc/PID/stat fields are read after the last ')', whatever the command name holds."""
    p = reaper.parse_stat(text)
    assert (p.pid, p.comm, p.state, p.ppid, p.pgid, p.sid) == (pid, comm, state, ppid, pgid, sid)
    assert p.start == int(text.split()[-2])


def test_owned_by_run_follows_ppid_group_and_spares_other_runs() -> None:
    """The run owns the plugin's descendants and our orphans in its group (and theirs), not another
    run's plugin nor our unrelated children."""
    me = 1000
    rows = [
        (10, me, 10),  # the plugin
        (11, 10, 10),  # its child
        (12, 11, 12),  # a grandchild that left the group
        (20, me, 10),  # an orphan still in the plugin's group, re-parented to us
        (21, 20, 21),  # what that orphan started
        (30, me, 30),  # another run's plugin
        (31, 30, 30),
        (40, me, 999),  # an unrelated child of ours (a test server, asyncio's subprocess)
    ]
    procs = {pid: reaper.Proc(pid, "x", "S", ppid, pgid, pgid, 0) for pid, ppid, pgid in rows}
    assert reaper.owned_by_run(procs, me, "none", 10, exclude=[30]) == {11, 12, 20, 21}
