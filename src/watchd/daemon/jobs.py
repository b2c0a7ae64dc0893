"""When the follow-up pass runs: every `scheduler.followup_interval` on the event loop, once at
start (a deadline that passed while watchd was down fires then), and, when the config has recurring
maintenance windows, also at the exact moment each window starts or ends and each announcement or
reminder is due (within the next `EDGE_HORIZON`), through APScheduler date jobs.

APScheduler is imported only for configs with recurring windows: it costs a plugin-only daemon
about 4 MB of RSS (its import pulls in importlib.metadata, email, concurrent.futures).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from watchd.config import Config
from watchd.core.businesshours import BusinessCalendar
from watchd.core.clock import Clock
from watchd.core.maintenance import announce_at, windows_between

log = structlog.get_logger("watchd.followup")

EDGE_HORIZON = 3600.0  # edges are planned this far ahead, again at every pass


def edges(config: Config, now: float, until: float) -> list[float]:
    """Times in (now, until] at which a recurring window starts or ends, or is announced or reminded."""
    m = config.maintenance
    if not m.windows:
        return []
    calendar: BusinessCalendar | None = config.incidents.priority.calendars.get(m.calendar)
    out: set[float] = set()
    for w in windows_between(m.windows, (), now, until + m.horizon):
        out.update((w.starts_at, w.ends_at))
        if w.announce and calendar is not None:
            due = announce_at(w.starts_at, m.announce_business_days, calendar)
            out.add(due)
            if m.reminder_before > 0:
                out.add(w.starts_at - m.reminder_before)
    return sorted(t for t in out if now < t <= until)


class FollowUpJobs:
    def __init__(
        self, tick: Callable[[], Awaitable[None]], config: Callable[[], Config], clock: Clock
    ) -> None:
        self._tick = tick
        self._config = config
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._aps: Any = None  # apscheduler AsyncIOScheduler, made when a config has windows
        self.passes = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self._config().scheduler.followup_interval)

    async def run_once(self) -> None:
        try:
            await self._tick()
        except Exception:  # one failed pass must not end the follow-up for good
            log.exception("follow-up pass failed; the next one retries")
        self.passes += 1
        self._plan_edges()

    def _plan_edges(self) -> None:
        config = self._config()
        now = self._clock.time()
        times = edges(config, now, now + EDGE_HORIZON)
        if not times:
            if self._aps is not None:
                self._aps.remove_all_jobs()
            return
        if self._aps is None:
            from apscheduler.schedulers.asyncio import AsyncIOScheduler  # only for configs with windows

            self._aps = AsyncIOScheduler(timezone="UTC")
            self._aps.start()
        wanted = {f"edge:{t:.0f}": t for t in times}
        for job in self._aps.get_jobs():
            if job.id not in wanted:
                with contextlib.suppress(Exception):  # JobLookupError: it just ran and is gone
                    job.remove()
        wall = dt.datetime.now(dt.UTC)  # APScheduler runs on real time; the clock may be injected
        for job_id, t in wanted.items():
            self._aps.add_job(
                self.run_once, "date", run_date=wall + dt.timedelta(seconds=t - now), id=job_id,
                replace_existing=True, misfire_grace_time=None, coalesce=True,
            )  # fmt: skip
