"""Blocking reads (psutil, statvfs, /proc) off the event loop, with a timeout and a bound on threads.

Each call runs on its own daemon thread. A call that does not return in time is abandoned, not killed
(Python cannot kill a thread, and a process stuck on a stale NFS mount cannot be interrupted anyway), so
the bound comes from keys: while a call for a key is still running, a new call for the same key is
refused at once (`StillBlocked`) instead of starting a second stuck thread. `max_threads` caps the total.
Daemon threads, so that a thread stuck in the kernel never blocks the daemon's exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class OffloadError(Exception):
    """The call could not produce a value; `str()` is a summary-ready reason."""


class SampleTimeout(OffloadError):
    def __init__(self, what: str, timeout: float) -> None:
        super().__init__(f"timed out after {timeout:g}s reading {what}")


class StillBlocked(OffloadError):
    def __init__(self, what: str, age: float) -> None:
        super().__init__(f"{what}: previous read still blocked after {age:.0f}s, skipped")


class Saturated(OffloadError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} sampling threads are blocked, not starting another")


class Offloader:
    def __init__(self, max_threads: int = 16) -> None:
        self._max = max_threads
        self._lock = threading.Lock()
        self._running: dict[str, float] = {}  # key -> monotonic start

    def busy(self) -> dict[str, float]:
        """Keys still running and since when (monotonic), for tests and diagnostics."""
        with self._lock:
            return dict(self._running)

    async def call(self, key: str, fn: Callable[[], T], timeout: float, what: str | None = None) -> T:
        """Run `fn` off-loop; raise SampleTimeout, StillBlocked or Saturated, or what `fn` raised."""
        label = what or key
        loop = asyncio.get_running_loop()
        with self._lock:
            since = self._running.get(key)
            if since is not None:
                raise StillBlocked(label, time.monotonic() - since)
            if len(self._running) >= self._max:
                raise Saturated(self._max)
            self._running[key] = time.monotonic()
        fut: asyncio.Future[T] = loop.create_future()

        def work() -> None:
            try:
                outcome: tuple[bool, Any] = (True, fn())
            except BaseException as exc:  # handed to the awaiting task, which decides
                outcome = (False, exc)
            finally:
                with self._lock:
                    self._running.pop(key, None)
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_deliver, fut, outcome)

        threading.Thread(target=work, name=f"watchd-sample:{key}", daemon=True).start()
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                return await fut
        except TimeoutError:
            raise SampleTimeout(label, timeout) from None


def _deliver(fut: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if fut.done():
        return  # the caller timed out or was cancelled
    ok, value = outcome
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


DEFAULT = Offloader()
"""The process-wide offloader the factories use; tests pass their own."""
