"""When each check runs: a drift-free interval grid on the loop's monotonic clock, a shorter retry
interval while a problem is soft, no overlapping runs of one check, and a global concurrency limit.

The hot path is one heap of due times served by a single loop timer on a grid, rather than
a timer per check or APScheduler: one wake-up starts every check due in the same grain, so the
daemon pays the loop's per-iteration cost once per grain instead of once per check, and plugins
started together finish together, so their exits and results are handled in the same loop turns
too. The grain (`scheduler.granularity: auto`) is as coarse as it can be, up to 250 ms, while no
more checks fall due in one grain than may run at once (max_concurrent / checks per second): a
burst larger than that would queue, and the queue starts checks one by one again. At 200 checks/s
a check cost 0.46 ms of daemon CPU on a 10 ms grid and 0.21 on 250 ms (bench/plugin_throughput.py);
a start is at most one grain late, at worst a quarter second: Nagios 4 schedules in whole seconds.
daemon/jobs.py runs the follow-up pass.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import math
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger("watchd.scheduler")

# First runs spread over min(interval, this): spread out, yet a fresh start shows results soon.
MAX_INITIAL_SPREAD = 15.0
LATENESS_SAMPLES = 10_000
# Due times are served on a grid of this step (the "auto" bounds): a start is at most one step late.
MIN_GRAIN, MAX_GRAIN = 0.01, 0.25


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    interval: float
    retry_interval: float


def initial_offset(name: str, interval: float) -> float:
    """Deterministic jitter: a stable hash of the name spreads first runs, the same on every restart."""
    return (zlib.crc32(name.encode()) % 10_000) / 10_000 * min(interval, MAX_INITIAL_SPREAD)


def next_due(prev_due: float, now: float, interval: float) -> float:
    """The next point on the interval grid after `now`: no drift, and missed points are skipped."""
    due = prev_due + interval
    if due <= now:
        due += math.ceil((now - due) / interval + 1e-9) * interval
    return due


def plan_next(
    job: Job, due: float, now: float, was_retrying: bool, retrying: bool, run_now: bool
) -> tuple[float, int]:
    """When to run next after a run that was due at `due` finished at `now`; and how many grid
    points were skipped because the run overlapped them. Pure, so the policy is tested directly."""
    if run_now:  # asked for while it was running: once more, right away
        return now, 0
    if retrying:  # soft problem: confirm it soon, counted from the end of this run
        return now + job.retry_interval, 0
    if was_retrying:  # back from retries: resume the normal interval from here
        return now + job.interval, 0
    nxt = next_due(due, now, job.interval)
    return nxt, round((nxt - due) / job.interval) - 1


@dataclass(slots=True)
class _Entry:
    job: Job
    due: float
    token: int = -1  # the heap item that is current for this entry; -1: not armed
    running: bool = False
    queued: bool = False
    retrying: bool = False
    removed: bool = False
    run_now: bool = False


@dataclass(slots=True)
class SchedulerStats:
    started: int = 0
    skipped_overlap: int = 0  # a due time passed while the previous run was still going
    lateness: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=LATENESS_SAMPLES)
    )
    last_tick: float = 0.0  # loop time of the last timer or completion: the watchdog reads it


class Scheduler:
    """Runs `run(name)` for each job; `run` returns True while the check should use its retry interval."""

    def __init__(
        self, run: Callable[[str], Awaitable[bool]], max_concurrent: int, granularity: float | None = None
    ) -> None:
        """`granularity`: the grid step in seconds; None picks it from the load (see the module)."""
        self._run = run
        self.max_concurrent = max_concurrent
        self.granularity = granularity
        self._rate = 0.0  # checks per second of the current jobs, at their normal interval
        self._entries: dict[str, _Entry] = {}
        self._waiting: collections.deque[_Entry] = collections.deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = 0
        self._stopping = False
        self.stats = SchedulerStats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._heap: list[tuple[float, int, _Entry]] = []  # (due, token, entry); stale tokens skipped
        self._tokens = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    @property
    def grain(self) -> float:
        if self.granularity is not None:
            return self.granularity
        if self._rate <= 0:
            return MAX_GRAIN
        return min(MAX_GRAIN, max(MIN_GRAIN, self.max_concurrent / self._rate))

    @property
    def running(self) -> int:
        return self._running

    @property
    def active(self) -> bool:
        return self._loop is not None and not self._stopping

    def start(self, jobs: Iterable[Job], first_due: dict[str, float] | None = None) -> None:
        """Schedule jobs; `first_due` maps names to a loop time for their first run (else jitter)."""
        self._loop = asyncio.get_running_loop()
        self.stats.last_tick = self._loop.time()
        self.update(jobs, first_due)

    def update(self, jobs: Iterable[Job], first_due: dict[str, float] | None = None) -> None:
        """Apply a new job set (reload): unchanged jobs keep their timing, removed ones stop."""
        assert self._loop is not None
        now = self._loop.time()
        wanted = {j.name: j for j in jobs}
        self._rate = sum(1.0 / j.interval for j in wanted.values() if j.interval > 0)
        for name in list(self._entries):
            if name not in wanted:
                entry = self._entries.pop(name)
                entry.removed = True
                self._cancel(entry)
        for name, job in wanted.items():
            known = self._entries.get(name)
            if known is None:
                due = (first_due or {}).get(name, now + initial_offset(name, job.interval))
                entry = self._entries[name] = _Entry(job, max(due, now))
                self._arm(entry)
            elif known.job != job:
                entry = known
                entry.job = job
                if not entry.running and not entry.queued:
                    entry.due = min(entry.due, now + job.interval)
                    self._arm(entry)

    def run_now(self, name: str) -> bool:
        """Run a check as soon as a slot is free; False if unknown. A running check runs once more after."""
        entry = self._entries.get(name)
        if entry is None or self._loop is None:
            return False
        if entry.running:
            entry.run_now = True
        elif not entry.queued:
            entry.due = self._loop.time()
            self._arm(entry)
        return True

    async def stop(self, grace: float) -> None:
        """Stop scheduling; running checks get `grace` seconds to finish, then are cancelled."""
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer, self._timer_at = None, math.inf
        self._heap.clear()
        for entry in self._entries.values():
            self._cancel(entry)
        self._waiting.clear()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    # -- internals --------------------------------------------------------------------------------

    def _cancel(self, entry: _Entry) -> None:
        entry.token = -1  # its heap item goes stale (skipped when it comes up)
        if entry.queued:
            entry.queued = False
            self._waiting.remove(entry)

    def _arm(self, entry: _Entry) -> None:
        entry.token = next(self._tokens)
        heapq.heappush(self._heap, (entry.due, entry.token, entry))
        self._wake_at(entry.due)

    def _wake_at(self, due: float) -> None:
        assert self._loop is not None
        grain = self.grain
        at = math.ceil(due / grain) * grain
        if at < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._timer_at = self._loop.call_at(at, self._on_timer), at

    def _on_timer(self) -> None:
        assert self._loop is not None
        self._timer, self._timer_at = None, math.inf
        if self._stopping:
            return
        now = self._loop.time()
        self.stats.last_tick = now
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, token, entry = heapq.heappop(heap)
            if token == entry.token:
                entry.token = -1
                self._fire(entry)
        while heap and heap[0][1] != heap[0][2].token:
            heapq.heappop(heap)  # stale heads would only wake us for nothing
        if heap:
            self._wake_at(heap[0][0])

    def _fire(self, entry: _Entry) -> None:
        if self._stopping or entry.removed:
            return
        if self._running >= self.max_concurrent:
            entry.queued = True
            self._waiting.append(entry)
        else:
            self._start(entry)

    def _start(self, entry: _Entry) -> None:
        assert self._loop is not None
        now = self._loop.time()
        self.stats.lateness.append(now - entry.due)
        self.stats.started += 1
        entry.running = True
        self._running += 1
        task = self._loop.create_task(self._execute(entry))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, entry: _Entry) -> None:
        retrying = entry.retrying
        try:
            retrying = await self._run(entry.job.name)
        except asyncio.CancelledError:
            raise
        except Exception:  # the runner turns failures into results; this is a last resort
            log.exception("check run failed", check=entry.job.name)
        finally:
            entry.running = False
            self._running -= 1
            self._finished(entry, retrying)

    def _finished(self, entry: _Entry, retrying: bool) -> None:
        assert self._loop is not None
        now = self._loop.time()
        self.stats.last_tick = now
        if not (self._stopping or entry.removed):
            entry.due, skipped = plan_next(entry.job, entry.due, now, entry.retrying, retrying, entry.run_now)
            self.stats.skipped_overlap += skipped
            entry.run_now = False
            entry.retrying = retrying
            self._arm(entry)
        while self._waiting and self._running < self.max_concurrent and not self._stopping:
            waiting = self._waiting.popleft()
            waiting.queued = False
            self._start(waiting)
