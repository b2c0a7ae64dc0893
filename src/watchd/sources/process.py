"""Run one external program without a shell, bounded in time and output.

The lean path: `os.posix_spawn` (vfork+exec in glibc) and a pidfd watched by the event loop. The
two pipes are only watched once a plugin has run for WATCH_PIPES_AFTER: a plugin that finishes
sooner (most do) left its output in the pipe buffers, which are read once it has exited, so its run
costs one fd registration instead of three. A plugin that writes more than a pipe holds blocks until
then and is read from that moment on. asyncio's subprocess transports cost several times more
daemon CPU per spawn (bench/plugin_throughput.py --spawn asyncio measures both).

The child gets its own process group, and watchd is the child subreaper (sources/reaper.py), so a
timeout kills the plugin *and* everything it started, even what left the group or the session; so does
a plugin that exits leaving processes behind. The hot path, a plugin that exits with nothing left,
costs one `killpg(pgid, 0)` more; orphans that left the group are found by a sweep every
SWEEP_INTERVAL seconds.

About 430 lines: one run's life (spawn, pipes, exit, timeout, leftovers) is one state machine driven
by loop callbacks, and it is read as one; finding and killing what escaped is in reaper.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from watchd.sources import reaper
from watchd.sources.reaper import RUN_ENV, Target

# Python ignores these at start-up; ignored signals survive exec, so reset them for the child.
_RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
_READ_CHUNK = 65536
# A plugin still running after this long has its pipes read as it writes (before: when it exits).
WATCH_PIPES_AFTER = 0.05
# How often running plugins are looked at (pipes, timeouts): a timeout fires at most this much late.
TICK = 0.05
# After the plugin itself exits, how long what it left behind may hold our pipes open.
DRAIN_AFTER_EXIT = 1.0
STDERR_LIMIT = 8192
# How long killed processes get to die before they are reported as not killed.
SETTLE_AFTER_KILL = 1.0
# Orphans that left the plugin's process group and hold none of its pipes are found this often.
SWEEP_INTERVAL = 5.0
# How `not_killed` names the plugin itself when even it could not be killed (set-uid, another user).
PLUGIN_ITSELF = "the plugin itself"
_seq = itertools.count(1)
_sweep: tuple[asyncio.AbstractEventLoop, asyncio.TimerHandle] | None = None


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    stdout: bytes
    stderr: bytes
    exit_code: int | None  # None when killed by a signal or never started
    signal: int | None
    duration_s: float
    timed_out: bool = False
    stdout_dropped: int = 0  # bytes beyond the output limit, read and discarded
    spawn_error: OSError | None = None
    leftovers_killed: bool = False  # the plugin exited leaving processes behind; they were killed
    killed: tuple[str, ...] = ()  # "PID COMM" of each process killed besides the plugin itself
    not_killed: tuple[str, ...] = ()  # "PID COMM (why)" of each that could not be killed


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class _Run:
    """One running child: its pipes, its pidfd and its timers, all driven by loop callbacks.

    `done` resolves once the child is reaped and both pipes are closed; `settle()` then waits for
    whatever else of the run was killed and reaps it.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        pid: int,
        run_id: str,
        out_fd: int,
        err_fd: int,
        limit: int,
        timeout: float,
        kill_grace: float,
    ) -> None:
        self.loop = loop
        self.pid = pid
        self.run_id = run_id
        self.limit = limit
        self.out = bytearray()
        self.err = bytearray()
        self.dropped = 0
        self.out_fd = out_fd
        self.open_fds = {out_fd, err_fd}
        self.status: int | None = None
        self.timed_out = False
        self.leftovers = False  # processes of its group outlived the plugin
        self.held = False  # something still held the pipes after the plugin exited
        self.targets: dict[int, Target] = {}  # what the run started besides the plugin, by pid
        self.refused: OSError | None = None  # SIGKILL to the plugin's group was refused
        self.signalled = False
        self.found_dead: set[int] = set()  # zombies before any signal: reaped, not reported as killed
        self.done: asyncio.Future[None] = loop.create_future()
        self.watching = False  # the pipes are registered with the loop
        self.kill_grace = kill_grace
        now = loop.time()
        self.watch_at = now + min(WATCH_PIPES_AFTER, timeout)
        self.deadline = now + timeout
        self._timers: list[asyncio.TimerHandle] = []
        self.pidfd = os.pidfd_open(pid)
        loop.add_reader(self.pidfd, self._exited)
        _Ticker.of(loop).add(self)

    def tick(self, now: float) -> None:
        """Called every TICK while the run lasts: start reading the pipes, or time out."""
        if not self.watching and now >= self.watch_at:
            self._watch_pipes()
        if not self.timed_out and now >= self.deadline:
            self.timeout(self.kill_grace)

    def _watch_pipes(self) -> None:
        if not self.watching:
            self.watching = True
            for fd in self.open_fds:
                self.loop.add_reader(fd, self._read, fd)

    def _drain(self) -> None:
        """Read what the pipes hold now; close those at EOF."""
        for fd in list(self.open_fds):
            try:
                while chunk := os.read(fd, _READ_CHUNK):
                    self._take(fd, chunk)
            except BlockingIOError:  # a writer is still there (something the plugin started)
                continue
            except OSError:
                pass
            self._close(fd)

    def _read(self, fd: int) -> None:
        try:
            chunk = os.read(fd, _READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._close(fd)
        else:
            self._take(fd, chunk)

    def _take(self, fd: int, chunk: bytes) -> None:
        if fd == self.out_fd:
            room = self.limit - len(self.out)
            if room > 0:
                self.out += chunk[:room]
            self.dropped += max(len(chunk) - max(room, 0), 0)
        elif len(self.err) < STDERR_LIMIT:
            self.err += chunk[: STDERR_LIMIT - len(self.err)]

    def _close(self, fd: int) -> None:
        if fd in self.open_fds:
            self.open_fds.discard(fd)
            if self.watching:
                self.loop.remove_reader(fd)
            os.close(fd)
            self._check_done()

    def _exited(self) -> None:
        self.loop.remove_reader(self.pidfd)
        os.close(self.pidfd)
        self.pidfd = -1
        try:
            _, self.status = os.waitpid(self.pid, 0)
        except ChildProcessError:  # reaped by someone else: exit status unknown
            self.status = -1
        self._drain()
        if self.open_fds:  # what the plugin started still holds a pipe: read it as it comes
            self._watch_pipes()
            self._timers.append(self.loop.call_later(DRAIN_AFTER_EXIT, self._kill_leftovers))
        self._check_done()

    def kill_all(self, sig: int) -> None:
        """Signal the plugin's group, then find (a /proc walk) and signal everything else the run
        started: what left the group, and orphans re-parented to us. SIGTERM goes to the group alone
        for members, so a plugin's trap runs once."""
        procs = reaper.snapshot()  # before any signal of this round: a zombie in it was dead already
        first, self.signalled = not self.signalled, True
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError as exc:  # no member could be signalled, the plugin included
            if self.status is None and sig == signal.SIGKILL:
                self.refused = exc
        others = set(reaper.RUNS.values()) - {self.pid}
        for pid in reaper.owned_by_run(procs, os.getpid(), self.run_id, self.pid, others):
            if pid not in self.targets and (t := Target.open(procs[pid])) is not None:
                self.targets[pid] = t
                if first and t.proc.state == "Z":
                    self.found_dead.add(pid)
        for t in self.targets.values():
            if sig == signal.SIGKILL or t.proc.pgid != self.pid:
                t.signal(sig)

    def _kill_leftovers(self) -> None:
        """The plugin exited but processes it started still hold the pipes: kill them, keep the output."""
        if not self.timed_out:
            self.held = True
        self.kill_all(signal.SIGKILL)
        self._drain()
        for fd in list(self.open_fds):  # still held: stop waiting for it
            self._close(fd)

    def timeout(self, kill_grace: float) -> None:
        self.timed_out = True
        self.kill_all(signal.SIGTERM)
        self._timers.append(self.loop.call_later(kill_grace, self.kill_all, signal.SIGKILL))
        # If even SIGKILL leaves the pipes held (an unkillable grandchild), stop waiting for them.
        self._timers.append(self.loop.call_later(kill_grace + DRAIN_AFTER_EXIT, self._kill_leftovers))

    def cancel_timers(self) -> None:
        _Ticker.of(self.loop).discard(self)
        for t in self._timers:
            t.cancel()

    def _check_done(self) -> None:
        if self.status is not None and not self.open_fds and not self.done.done():
            self.cancel_timers()
            if self.timed_out or self.held:
                self.kill_all(signal.SIGKILL)  # whatever survived SIGTERM, or escaped since
            elif _group_alive(self.pid):
                # Exited with its pipes closed but left processes in its group (zombies count: a
                # zombie is reaped, not reported).
                self.leftovers = True
                self.kill_all(signal.SIGKILL)
            self.done.set_result(None)

    async def settle(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Wait (bounded) for the killed processes to die, reap the orphans among them, and say which
        were killed and which were not."""
        targets = sorted(self.targets.values(), key=lambda t: (t.proc.start, t.proc.pid))  # as started
        waiting = [t for t in targets if t.error is None and not t.exited()]
        if waiting:
            gone = [self.loop.create_future() for _ in waiting]
            for t, f in zip(waiting, gone, strict=True):
                self.loop.add_reader(t.pidfd, _resolve, f)
            try:
                await asyncio.wait(gone, timeout=SETTLE_AFTER_KILL)
            finally:
                for t in waiting:
                    self.loop.remove_reader(t.pidfd)
        killed, not_killed = [], []
        for t in targets:
            if t.proc.pid in self.found_dead:
                t.reap()
            elif t.exited():
                t.reap()
                killed.append(reaper.describe(t.proc))
            else:
                why = t.error.strerror if t.error is not None else "still running after SIGKILL"
                not_killed.append(f"{reaper.describe(t.proc)} ({why})")
            t.close()
        self.targets.clear()
        if self.refused is not None:
            not_killed.insert(0, f"{PLUGIN_ITSELF} ({self.refused.strerror})")
        return tuple(killed), tuple(not_killed)


class _Ticker:
    """One timer per loop for all running plugins (instead of one or two per run): every TICK it
    lets each run start reading its pipes or time out. Armed only while runs are in flight."""

    _by_loop: ClassVar[dict[asyncio.AbstractEventLoop, _Ticker]] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.runs: dict[_Run, None] = {}  # insertion-ordered set
        self.handle: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> _Ticker:
        ticker = cls._by_loop.get(loop)
        if ticker is None:
            for old in [lp for lp in cls._by_loop if lp.is_closed()]:
                del cls._by_loop[old]
            ticker = cls._by_loop[loop] = cls(loop)
        return ticker

    def add(self, run: _Run) -> None:
        self.runs[run] = None
        if self.handle is None:
            self.handle = self.loop.call_later(TICK, self._tick)

    def discard(self, run: _Run) -> None:
        self.runs.pop(run, None)

    def _tick(self) -> None:
        self.handle = None
        now = self.loop.time()
        for run in list(self.runs):
            run.tick(now)
        if self.runs:
            self.handle = self.loop.call_later(TICK, self._tick)


def _resolve(f: asyncio.Future[None]) -> None:
    if not f.done():
        f.set_result(None)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal (set-uid): still a leftover
        return True
    return True


def _schedule_sweep(loop: asyncio.AbstractEventLoop) -> None:
    """Look for orphans that left the plugin's group SWEEP_INTERVAL after a run ends (one pending
    sweep at a time, re-armed while orphans of running plugins remain)."""
    global _sweep
    if _sweep is not None and _sweep[0] is loop and not _sweep[1].cancelled():
        return
    _sweep = (loop, loop.call_later(SWEEP_INTERVAL, _sweep_now, loop))


def _sweep_now(loop: asyncio.AbstractEventLoop) -> None:
    global _sweep
    _sweep = None
    if reaper.sweep():
        _schedule_sweep(loop)


async def run_process(
    argv: Sequence[str],
    env: Mapping[str, str],
    timeout: float,
    output_limit: int = 65536,
    kill_grace: float = 2.0,
) -> ProcessOutcome:
    """Run argv (argv[0] a path) and collect its outcome; never raises for the child's sake.

    On timeout: SIGTERM to the process group and to what the run started outside it, SIGKILL to all
    after `kill_grace`, then reap.
    """
    loop = asyncio.get_running_loop()
    reaper.enable_subreaper()
    run_id = f"{os.getpid()}.{next(_seq)}"
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    os.set_blocking(out_r, False)
    os.set_blocking(err_r, False)
    started = time.monotonic()
    try:
        # vfork+exec: returns as soon as the child has exec'd, it does not wait for the child.
        pid = os.posix_spawn(  # noqa: ASYNC221
            argv[0],
            list(argv),
            {**env, RUN_ENV: run_id},
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out_w, 1),
                (os.POSIX_SPAWN_DUP2, err_w, 2),
            ],
            setpgroup=0,
            setsigdef=_RESET_SIGNALS,
            setsigmask=(),
        )
    except OSError as exc:
        os.close(out_r)
        os.close(err_r)
        return ProcessOutcome(b"", b"", None, None, time.monotonic() - started, spawn_error=exc)
    finally:
        # Only the child's copies of the write ends may stay open, or EOF never comes.
        os.close(out_w)
        os.close(err_w)

    reaper.RUNS[run_id] = pid
    try:
        run = _Run(loop, pid, run_id, out_r, err_r, output_limit, timeout, kill_grace)
        try:
            await run.done
        except asyncio.CancelledError:
            # Shutting down: kill it all; the loop callbacks still reap the plugin and close the pipes.
            run.kill_all(signal.SIGKILL)
            run._watch_pipes()
            reaper.watch(run.targets.values())
            raise
        finally:
            run.cancel_timers()
        killed, not_killed = await run.settle() if run.targets or run.refused else ((), ())
    finally:
        del reaper.RUNS[run_id]
    if reaper.is_subreaper():
        _schedule_sweep(loop)
    code, sig = _decode_status(run.status if run.status is not None else -1)
    return ProcessOutcome(
        bytes(run.out),
        bytes(run.err),
        code,
        sig,
        time.monotonic() - started,
        run.timed_out,
        run.dropped,
        None,
        run.held or (run.leftovers and bool(killed or not_killed)),
        killed,
        not_killed,
    )


def _decode_status(status: int) -> tuple[int | None, int | None]:
    if status < 0:
        return None, None
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    return os.WEXITSTATUS(status), None


def spawn_error_code(exc: OSError) -> int:
    """The exit code a shell would report for this exec failure: 127 not found, 126 not executable."""
    return 127 if exc.errno in (errno.ENOENT, errno.ENOTDIR) else 126
