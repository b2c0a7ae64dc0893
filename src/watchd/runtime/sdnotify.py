"""A minimal sd_notify(3) client (no dependency) and the decision whether to feed systemd's watchdog.

    notifier = Notifier.from_env()          # no-op when not started by systemd with Type=notify
    notifier.ready(status="12 checks")
    notifier.reloading()                    # RELOADING=1 + MONOTONIC_USEC, then ready() when done
    notifier.stopping()

Messages are `KEY=value` lines in one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET (a path,
or `@name` in the abstract namespace). Sending never raises and never blocks: a monitoring daemon must
not die or stall because its supervisor is unreachable; failures are logged once, then on recovery.

The watchdog: with WatchdogSec= systemd sets $WATCHDOG_USEC and kills the service when WATCHDOG=1 does
not arrive in time. Pinging from a timer alone would only prove the event loop runs, so `WatchdogGate`
also requires the loop to be punctual and the scheduler to make progress, and `watchdog_loop` pings
only while the gate says so: a stuck loop or scheduler then gets the service restarted.
"""

from __future__ import annotations

import asyncio
import enum
import os
import socket
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)

_ENV_KEYS = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """The watchdog timeout in seconds, or None when it is not enabled for this process.

    As sd_watchdog_enabled(3): WATCHDOG_USEC must be a positive integer, and WATCHDOG_PID, when set, must be
    our pid (a child that inherited the variables must not think the watchdog is its business).
    Ping at half this interval.
    """
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    owner = environ.get("WATCHDOG_PID")
    if owner is not None and (not owner.isdigit() or int(owner) != pid):
        return None
    return int(usec) / 1_000_000


def _address(value: str) -> str | None:
    if value.startswith("@"):
        return "\0" + value[1:]  # abstract namespace
    if value.startswith("/"):
        return value
    return None  # vsock: (systemd >= 254) and relative paths are not supported


class Notifier:
    """Sends sd_notify messages; every method returns True when the datagram was sent."""

    def __init__(self, socket_path: str | None, watchdog_s: float | None = None) -> None:
        self._address = _address(socket_path) if socket_path else None
        if socket_path and self._address is None:
            log.warning("sd_notify socket address not supported, notifications disabled", address=socket_path)
        self._watchdog_s = watchdog_s
        self._sock: socket.socket | None = None
        self._failing = False

    @classmethod
    def from_env(cls, environ: MutableMapping[str, str] | None = None, *, unset: bool = True) -> Notifier:
        """Read $NOTIFY_SOCKET and the watchdog variables.

        With `unset` (the default) they are removed from the environment, as sd_notify's unset_environment
        does, so that plugins started as child processes do not inherit them.
        """
        env = os.environ if environ is None else environ
        notifier = cls(env.get("NOTIFY_SOCKET") or None, watchdog_interval(env, os.getpid()))
        if unset:
            for key in _ENV_KEYS:
                env.pop(key, None)
        return notifier

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def watchdog_interval(self) -> float | None:
        """WatchdogSec= in seconds, None when the watchdog is off; ping at half of it."""
        return self._watchdog_s

    def notify(self, **fields: str | int) -> bool:
        """Send `KEY=value` lines, e.g. `notify(READY=1, STATUS="running")`. False when disabled or failed."""
        if self._address is None or not fields:
            return False
        # A newline in a value would start a new assignment: keep each field on its line.
        message = "\n".join(f"{key}={str(value).replace(chr(10), ' ')}" for key, value in fields.items())
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto(message.encode("utf-8"), self._address)
        except OSError as exc:
            if not self._failing:
                log.warning("sd_notify failed", error=str(exc), fields=sorted(fields))
            self._failing = True
            return False
        if self._failing:
            log.info("sd_notify works again")
            self._failing = False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Startup finished, or a reload finished (after `reloading`)."""
        return self.notify(READY=1, **({"STATUS": status} if status is not None else {}))

    def reloading(self, monotonic_usec: int | None = None) -> bool:
        """A reload started. systemd >= 253 (Type=notify-reload) wants CLOCK_MONOTONIC in MONOTONIC_USEC."""
        usec = (
            time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000 if monotonic_usec is None else monotonic_usec
        )
        return self.notify(RELOADING=1, MONOTONIC_USEC=usec)

    def stopping(self, status: str | None = None) -> bool:
        return self.notify(STOPPING=1, **({"STATUS": status} if status is not None else {}))

    def status(self, text: str) -> bool:
        """Free text shown by `systemctl status`."""
        return self.notify(STATUS=text)

    def watchdog(self) -> bool:
        return self.notify(WATCHDOG=1)

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for more time to start, reload or stop (EXTEND_TIMEOUT_USEC)."""
        return self.notify(EXTEND_TIMEOUT_USEC=int(seconds * 1_000_000))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class Health(enum.Enum):
    """Why the watchdog is (not) fed."""

    OK = "ok"
    LOOP_STALLED = "loop_stalled"  # no loop measurement for max_stall: the loop or its timer task is stuck
    LOOP_LAGGING = "loop_lagging"  # the last timer fired more than max_lag late: something blocks the loop
    SCHEDULER_STALLED = "scheduler_stalled"  # the scheduler has not ticked for max_scheduler_idle


@dataclass
class WatchdogGate:
    """Pure decision: is the daemon healthy enough to send WATCHDOG=1 at monotonic time `now`?

    Fed with loop-lag measurements (`loop_tick`) and scheduler progress (`scheduler_progress`, e.g. its
    last timer or completion time). `max_scheduler_idle` must exceed the longest time the scheduler may
    legitimately stay idle (no check due); None ignores the scheduler. Until the first report of each
    kind, `started` stands in for it, so a daemon that never gets going is not fed either. All times are
    monotonic seconds on the event loop's clock (`loop.time()` is `time.monotonic()`).
    """

    started: float
    max_lag: float
    max_stall: float
    max_scheduler_idle: float | None = None
    last_loop: float | None = None
    last_lag: float = 0.0
    last_progress: float | None = None

    def loop_tick(self, now: float, lag: float) -> None:
        self.last_loop = now
        self.last_lag = lag

    def scheduler_progress(self, at: float) -> None:
        if at < self.started:
            return  # a tick from before we started watching (or a 0.0 "never"): `started` covers it
        if self.last_progress is None or at > self.last_progress:
            self.last_progress = at

    def check(self, now: float) -> Health:
        if now - (self.last_loop if self.last_loop is not None else self.started) > self.max_stall:
            return Health.LOOP_STALLED
        if self.last_lag > self.max_lag:
            return Health.LOOP_LAGGING
        if self.max_scheduler_idle is not None:
            progress = self.last_progress if self.last_progress is not None else self.started
            if now - progress > self.max_scheduler_idle:
                return Health.SCHEDULER_STALLED
        return Health.OK


async def watchdog_loop(
    notifier: Notifier,
    gate: WatchdogGate,
    period: float,
    monotonic: Callable[[], float] = time.monotonic,
    progress: Callable[[], float | None] | None = None,
) -> None:
    """Every `period` (half of WatchdogSec=), measure loop lag, read scheduler progress, ping if healthy.

    Runs until cancelled. Health changes are logged once each, not on every tick.
    """
    reported = Health.OK
    while True:
        due = monotonic() + period
        await asyncio.sleep(period)
        now = monotonic()
        gate.loop_tick(now, max(0.0, now - due))
        if progress is not None and (at := progress()) is not None:
            gate.scheduler_progress(at)
        health = gate.check(now)
        if health is Health.OK:
            notifier.watchdog()
        if health is not reported:
            (log.info if health is Health.OK else log.error)("watchdog health changed", health=health.value)
            reported = health
