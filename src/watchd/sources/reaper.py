"""Finding, killing and reaping what a plugin left behind, without cgroups.

watchd makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so a process whose parent dies
(a double fork, a `setsid` daemon) is re-parented to watchd instead of init: it stays findable as our
child, and its zombie is ours to reap. Which plugin run it belongs to is told by, in this order, its
PPid chain (while its parents live), its process group (the plugin's pid, when it did not leave the
group) or the `WATCHD_RUN` variable every plugin is started with (kept across `setsid`; a process that
cleared its environment is only attributed in the daemon, see `adopt_orphans`).

Everything here reads /proc: it runs on timeouts, on leftovers and in a sweep every few seconds, never
on the path of a plugin that exits cleanly with nothing left (that path costs one `killpg(pgid, 0)`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import structlog

log = structlog.get_logger("watchd.sources")

RUN_ENV = "WATCHD_RUN"
_PR_SET_CHILD_SUBREAPER = 36
_subreaper: bool | None = None
# Plugin runs in flight: WATCHD_RUN value -> the plugin's pid (which is also its process group).
RUNS: dict[str, int] = {}


def enable_subreaper() -> bool:
    """Become the child subreaper of this process (once); False where the kernel refuses."""
    global _subreaper
    if _subreaper is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            _subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        except (OSError, AttributeError):  # no libc prctl (not Linux)
            _subreaper = False
    return _subreaper


def is_subreaper() -> bool:
    return bool(_subreaper)


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    comm: str
    state: str
    ppid: int
    pgid: int
    sid: int
    start: int  # clock ticks since boot: with the pid, names one process across pid reuse


def parse_stat(text: str) -> Proc:
    """/proc/PID/stat -> Proc. comm may hold spaces and ')', so split at the last ')'."""
    head, _, rest = text.rpartition(")")
    pid, _, comm = head.partition(" (")
    f = rest.split()
    return Proc(int(pid), comm, f[0], int(f[1]), int(f[2]), int(f[3]), int(f[19]))


def read_proc(pid: int) -> Proc | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return parse_stat(fh.read().decode("utf-8", "replace"))
    except (OSError, ValueError, IndexError):
        return None


def snapshot() -> dict[int, Proc]:
    """Every process visible in /proc (one stat read each)."""
    procs: dict[int, Proc] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (p := read_proc(int(name))) is not None:
            procs[p.pid] = p
    return procs


def children() -> set[int] | None:
    """PIDs of this process's children, from /proc/self/task/*/children: a few small reads, no walk
    of /proc. None where the kernel does not offer the file (CONFIG_PROC_CHILDREN)."""
    kids: set[int] = set()
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children", "rb") as fh:
                kids.update(int(pid) for pid in fh.read().split())
    except FileNotFoundError:
        return None
    except OSError:  # a thread that ended between the listing and the read
        pass
    return kids


def run_marker(pid: int) -> str | None:
    """The WATCHD_RUN value a process was exec'd with; None if unset or unreadable (zombies,
    processes of other users)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            env = fh.read()
    except OSError:
        return None
    key = RUN_ENV.encode() + b"="
    for item in env.split(b"\0"):
        if item.startswith(key):
            return item[len(key) :].decode("ascii", "replace")
    return None


def descendants(procs: Mapping[int, Proc], roots: Iterable[int]) -> set[int]:
    """roots and everything below them by PPid (pure)."""
    children: dict[int, list[int]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p.pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def owned_by_run(
    procs: Mapping[int, Proc], me: int, run_id: str, root: int, exclude: Iterable[int] = ()
) -> set[int]:
    """What one plugin run started and is still there: the descendants of `root` (the plugin) and of
    our re-parented orphans that are in its process group or carry its WATCHD_RUN. `root` itself is
    not included; `exclude` (other runs' plugins) never is."""
    skip = set(exclude)
    roots = {root}
    for p in procs.values():
        if p.ppid != me or p.pid == root or p.pid in skip:
            continue
        if p.pgid == root or (p.state != "Z" and run_marker(p.pid) == run_id):
            roots.add(p.pid)
    return descendants(procs, roots) - {root} - skip


def describe(p: Proc) -> str:
    return f"{p.pid} {p.comm}"


class Target:
    """One process to kill, held by a pidfd so that a recycled pid is never signalled."""

    def __init__(self, proc: Proc, pidfd: int) -> None:
        self.proc = proc
        self.pidfd = pidfd
        self.error: OSError | None = None  # why the last signal failed (EPERM: another user's)
        self.reaped = False

    @classmethod
    def open(cls, proc: Proc) -> Target | None:
        try:
            fd = os.pidfd_open(proc.pid)
        except OSError:
            return None
        again = read_proc(proc.pid)
        if again is None or again.start != proc.start:  # gone, or the pid was reused meanwhile
            os.close(fd)
            return None
        return cls(proc, fd)

    def signal(self, sig: int) -> None:
        if self.pidfd < 0:
            return
        try:
            signal.pidfd_send_signal(self.pidfd, sig)
            self.error = None
        except ProcessLookupError:
            pass  # already exited
        except OSError as exc:
            self.error = exc

    def exited(self) -> bool:
        if self.pidfd < 0:
            return True
        return bool(select.select([self.pidfd], [], [], 0)[0])

    def reap(self) -> None:
        """Collect its zombie if it is our child (a re-parented orphan); otherwise its parent does."""
        if self.pidfd >= 0 and not self.reaped:
            with contextlib.suppress(ChildProcessError, OSError):
                if os.waitid(os.P_PIDFD, self.pidfd, os.WEXITED | os.WNOHANG) is not None:
                    self.reaped = True

    def close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


# -- the sweep: orphans whose run has ended ---------------------------------------------------------

_adopt = False
# Orphans seen alive while their run was in flight, or killed by a sweep: reaped once they die.
_watched: dict[int, Target] = {}
# adopt mode: unattributed orphans -> (their start, the runs in flight when first seen).
_unclaimed: dict[int, tuple[int, frozenset[str]]] = {}
# (pid, start) of orphans a kill was refused for (another user's): reported once, not retried.
_unkillable: set[tuple[int, int]] = set()


def adopt_orphans() -> None:
    """Declare every child of this process outside its own process group a plugin's orphan (true in
    the daemon, whose only other children are asyncio's, in its group): sweeps then also kill those
    that cleared their environment, once every run that could have started them has ended, and reap
    any such zombie. Not for processes that run other children (a test runner)."""
    global _adopt
    enable_subreaper()
    _adopt = True


def sweep() -> bool:
    """Kill orphans whose plugin run has ended (and what they started), reap orphans' zombies.
    True while something is left to look at again (an orphan of a run still in flight, or one killed
    but not yet dead). With nothing left behind it costs a read of our children list."""
    me, my_pgid = os.getpid(), os.getpgid(0)
    running = set(RUNS.values())
    kids = children()
    procs: dict[int, Proc] | None = None
    if kids is None:  # no children file: find them in a full walk
        procs = snapshot()
        kids = {p.pid for p in procs.values() if p.ppid == me}
    orphans = [p for pid in kids - running if (p := read_proc(pid)) is not None and p.ppid == me]
    doomed: list[Proc] = []
    for p in orphans:
        if (p.pid, p.start) in _unkillable:
            continue
        if p.state == "Z":
            _reap_zombie(p, my_pgid)
        elif _owner_in_flight(p, my_pgid, running) is False:
            doomed.append(p)
    if doomed:
        procs = procs or snapshot()
        for p in doomed:
            _kill_tree(procs, p)
    for pid, t in list(_watched.items()):
        if not t.exited():
            continue
        t.reap()
        # A zombie whose parent was killed too becomes ours once that parent is gone: keep it till then.
        left = None if t.reaped else read_proc(pid)
        if left is None or (left.ppid != me and left.ppid not in _watched):
            t.close()
            del _watched[pid]
    for pid in [pid for pid in _unclaimed if pid not in kids]:
        del _unclaimed[pid]
    _unkillable.intersection_update((p.pid, p.start) for p in orphans)
    return bool(_watched or _unclaimed)


def _owner_in_flight(p: Proc, my_pgid: int, running: set[int]) -> bool | None:
    """Whether p's run is still in flight (True), has ended (False) or p is not a plugin's (None)."""
    marker = run_marker(p.pid)
    if marker is not None and marker.startswith(f"{os.getpid()}."):
        if marker in RUNS:
            _watch(p)
            return True
        return False
    if p.pgid in running:  # left behind in a running plugin's group; that run will see to it
        return True
    if not _adopt or p.pgid == my_pgid:
        return None
    seen = _unclaimed.get(p.pid)
    if seen is None or seen[0] != p.start:
        _unclaimed[p.pid] = seen = (p.start, frozenset(RUNS))
    if seen[1] & RUNS.keys():
        return True
    del _unclaimed[p.pid]
    return False


def watch(targets: Iterable[Target]) -> None:
    """Hand killed processes to the sweep, which reaps them once they die."""
    for t in targets:
        old = _watched.pop(t.proc.pid, None)
        if old is not None:
            old.close()
        _watched[t.proc.pid] = t


def _watch(p: Proc) -> None:
    if p.pid not in _watched and (t := Target.open(p)) is not None:
        _watched[p.pid] = t


def _reap_zombie(p: Proc, my_pgid: int) -> None:
    t = _watched.pop(p.pid, None)
    if t is not None:
        t.reap()
        t.close()
    elif _adopt and p.pgid != my_pgid:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(p.pid, os.WNOHANG)


def _kill_tree(procs: Mapping[int, Proc], orphan: Proc) -> None:
    marker = run_marker(orphan.pid)
    killed: list[str] = []
    failed: list[str] = []
    for pid in sorted(descendants(procs, [orphan.pid])):
        t = Target.open(procs[pid])
        if t is None:
            continue
        t.signal(signal.SIGKILL)
        if t.error is not None:
            failed.append(f"{describe(t.proc)} ({t.error.strerror})")
            _unkillable.add((pid, t.proc.start))
            t.close()
            continue
        killed.append(describe(t.proc))
        old = _watched.pop(pid, None)
        if old is not None:
            old.close()
        _watched[pid] = t
    log.warning(
        "killed processes a plugin left running after it exited",
        killed=killed, not_killed=failed, run=marker,
    )  # fmt: skip
