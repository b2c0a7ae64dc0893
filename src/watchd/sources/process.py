"""Run one external program without a shell, bounded in time and output.

The lean path: `os.posix_spawn` (vfork+exec in glibc), a pidfd and two pipes watched by the event
loop. asyncio's subprocess transports cost several times more daemon CPU per spawn
(bench/plugin_throughput.py --spawn asyncio measures both).

The child gets its own process group, so a timeout kills the plugin *and* everything it forked.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Python ignores these at start-up; ignored signals survive exec, so reset them for the child.
_RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
_READ_CHUNK = 65536
# After the plugin itself exits, how long what it left behind may hold our pipes open.
DRAIN_AFTER_EXIT = 1.0
STDERR_LIMIT = 8192


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
    leftovers_killed: bool = False  # processes still holding the pipes after exit were killed


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class _Run:
    """One running child: its pipes, its pidfd and its timers, all driven by loop callbacks.

    `done` resolves once the child is reaped and both pipes are closed.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, pid: int, out_fd: int, err_fd: int, limit: int
    ) -> None:
        self.loop = loop
        self.pid = pid
        self.limit = limit
        self.out = bytearray()
        self.err = bytearray()
        self.dropped = 0
        self.out_fd = out_fd
        self.open_fds = {out_fd, err_fd}
        self.status: int | None = None
        self.timed_out = False
        self.leftovers_killed = False
        self.done: asyncio.Future[None] = loop.create_future()
        self._timers: list[asyncio.TimerHandle] = []
        self.pidfd = os.pidfd_open(pid)
        loop.add_reader(out_fd, self._read, out_fd)
        loop.add_reader(err_fd, self._read, err_fd)
        loop.add_reader(self.pidfd, self._exited)

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
        if self.open_fds:
            self._timers.append(self.loop.call_later(DRAIN_AFTER_EXIT, self._kill_leftovers))
        self._check_done()

    def _kill_leftovers(self) -> None:
        """The plugin exited but processes it forked still hold the pipes: kill them, keep the output."""
        self.leftovers_killed = True
        _killpg(self.pid, signal.SIGKILL)
        for fd in list(self.open_fds):
            try:
                while chunk := os.read(fd, _READ_CHUNK):
                    self._take(fd, chunk)
            except OSError:  # BlockingIOError: nothing more is buffered
                pass
            self._close(fd)

    def timeout(self, kill_grace: float) -> None:
        self.timed_out = True
        _killpg(self.pid, signal.SIGTERM)
        self._timers.append(self.loop.call_later(kill_grace, self._kill_group))
        # If even SIGKILL leaves the pipes held (an escaped grandchild), stop waiting for them.
        self._timers.append(self.loop.call_later(kill_grace + DRAIN_AFTER_EXIT, self._kill_leftovers))

    def _kill_group(self) -> None:
        _killpg(self.pid, signal.SIGKILL)

    def _check_done(self) -> None:
        if self.status is not None and not self.open_fds and not self.done.done():
            for t in self._timers:
                t.cancel()
            if self.timed_out:
                _killpg(self.pid, signal.SIGKILL)  # whatever in the group survived SIGTERM
            self.done.set_result(None)


async def run_process(
    argv: Sequence[str],
    env: Mapping[str, str],
    timeout: float,
    output_limit: int = 65536,
    kill_grace: float = 2.0,
) -> ProcessOutcome:
    """Run argv (argv[0] a path) and collect its outcome; never raises for the child's sake.

    On timeout: SIGTERM to the process group, SIGKILL to the group after `kill_grace`, then reap.
    """
    loop = asyncio.get_running_loop()
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
            env,
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

    run = _Run(loop, pid, out_r, err_r, output_limit)
    handle = loop.call_later(timeout, run.timeout, kill_grace)
    try:
        await run.done
    except asyncio.CancelledError:
        # Shutting down: kill the group; the loop callbacks still reap it and close the pipes.
        _killpg(pid, signal.SIGKILL)
        raise
    finally:
        handle.cancel()
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
        run.leftovers_killed,
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
