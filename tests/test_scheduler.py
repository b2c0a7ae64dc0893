"""Scheduling policy (pure, with literal times) and the scheduler's limits (real loop, gated runs)."""

from __future__ import annotations

import asyncio
import math

import pytest

from watchd.daemon.scheduler import MAX_INITIAL_SPREAD, Job, Scheduler, initial_offset, next_due, plan_next

JOB = Job("web", interval=60.0, retry_interval=15.0)


@pytest.mark.parametrize(
    ("prev_due", "now", "expected"),
    [
        (100.0, 101.0, 160.0),  # ran on time: next grid point
        (100.0, 159.0, 160.0),  # a long run, still before the next point
        (100.0, 160.0, 220.0),  # finished exactly on the next point: that one is skipped
        (100.0, 250.0, 280.0),  # overran several points: skip to the first one after now
    ],
    ids=["on-time", "long-run", "boundary", "overrun"],
)
def test_next_due_stays_on_grid(prev_due: float, now: float, expected: float) -> None:
    """Next runs stay on the original grid, so there is no drift however late a run finishes."""
    assert next_due(prev_due, now, 60.0) == expected


def test_no_drift_over_a_day() -> None:
    """After 1440 runs that each finish 0.7 s late, the 1441st is still due exactly 24 h after the first."""
    due = 1000.0
    for _ in range(1440):
        due, skipped = plan_next(JOB, due, due + 0.7, False, False, False)
        assert skipped == 0
    assert due == 1000.0 + 86400.0


@pytest.mark.parametrize(
    ("now", "was_retrying", "retrying", "run_now", "expected"),
    [
        (105.0, False, True, False, (120.0, 0)),  # soft problem: retry interval after the run
        (125.0, True, True, False, (140.0, 0)),  # still soft
        (145.0, True, False, False, (205.0, 0)),  # confirmed or recovered: normal interval from here
        (105.0, False, False, True, (105.0, 0)),  # run-now requested during the run
        (290.0, False, False, False, (340.0, 3)),  # overran points 160, 220, 280
    ],
    ids=["enter-retry", "stay-retry", "leave-retry", "run-now", "overlap-skips"],
)
def test_plan_next(now: float, was_retrying: bool, retrying: bool, run_now: bool, expected: tuple) -> None:
    """Retry interval while soft, normal interval afterwards, skipped points counted."""
    assert plan_next(JOB, 100.0, now, was_retrying, retrying, run_now) == expected


def test_initial_offset_is_stable_and_spread() -> None:
    """First-run jitter is deterministic per name, inside the spread window, and actually spreads."""
    offsets = [initial_offset(f"check{i}", 300.0) for i in range(200)]
    assert offsets == [initial_offset(f"check{i}", 300.0) for i in range(200)]
    assert all(0 <= o < MAX_INITIAL_SPREAD for o in offsets)
    assert len({round(o, 1) for o in offsets}) > 40
    assert all(0 <= initial_offset(f"c{i}", 5.0) < 5.0 for i in range(50))


class Gate:
    """A run callback that blocks until released and records concurrency."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.running: dict[str, int] = {}
        self.peak_total = 0
        self.peak_per_job = 0
        self.runs: list[str] = []
        self.started = asyncio.Condition()

    async def __call__(self, name: str) -> bool:
        self.running[name] = self.running.get(name, 0) + 1
        self.peak_total = max(self.peak_total, sum(self.running.values()))
        self.peak_per_job = max(self.peak_per_job, self.running[name])
        self.runs.append(name)
        async with self.started:
            self.started.notify_all()
        try:
            await self.open.wait()
        finally:
            self.running[name] -= 1
        return False

    async def wait_runs(self, n: int) -> None:
        async with self.started:
            await asyncio.wait_for(self.started.wait_for(lambda: len(self.runs) >= n), 5)


async def test_global_concurrency_limit() -> None:
    """With max_concurrent=2, six due checks run two at a time; the rest wait their turn, none is lost."""
    gate = Gate()
    sched = Scheduler(gate, max_concurrent=2)
    sched.start([Job(f"c{i}", 3600.0, 60.0) for i in range(6)], first_due={f"c{i}": 0.0 for i in range(6)})
    await gate.wait_runs(2)
    assert sched.running == 2
    assert len(gate.runs) == 2
    gate.open.set()
    await gate.wait_runs(6)
    assert sorted(gate.runs) == [f"c{i}" for i in range(6)]
    assert gate.peak_total == 2
    await sched.stop(1.0)


async def test_no_overlapping_runs_of_one_check() -> None:
    """A check whose run outlasts its interval is never started twice at once; missed points are counted."""
    gate = Gate()
    sched = Scheduler(gate, max_concurrent=10)
    loop = asyncio.get_running_loop()
    sched.start([Job("slow", 0.01, 0.01)], first_due={"slow": loop.time()})
    await gate.wait_runs(1)
    await asyncio.sleep(0.1)  # let about ten grid points pass while the run is blocked
    assert gate.runs == ["slow"]
    gate.open.set()
    await gate.wait_runs(3)
    assert gate.peak_per_job == 1
    assert sched.stats.skipped_overlap >= 5
    await sched.stop(1.0)


async def test_run_now_and_removal() -> None:
    """run_now starts a far-future check at once; a removed job is not rescheduled."""
    gate = Gate()
    gate.open.set()
    sched = Scheduler(gate, max_concurrent=4)
    sched.start([Job("later", 3600.0, 60.0)], first_due={"later": 1e12})
    assert sched.run_now("later")
    assert not sched.run_now("unknown")
    await gate.wait_runs(1)
    sched.update([])
    assert not sched.run_now("later")
    await sched.stop(1.0)


async def test_stop_waits_for_running_checks_then_cancels() -> None:
    """stop() lets running checks finish within the grace period and cancels them after it."""
    gate = Gate()
    sched = Scheduler(gate, max_concurrent=4)
    sched.start([Job("a", 3600.0, 60.0)], first_due={"a": 0.0})
    await gate.wait_runs(1)
    loop = asyncio.get_running_loop()
    begin = loop.time()
    await sched.stop(0.2)
    assert 0.15 < loop.time() - begin < 2.0
    assert gate.running["a"] == 0  # cancelled, and its finally ran


async def test_checks_due_within_a_grain_start_together_on_its_edge() -> None:
    """Two checks due 80 ms apart within one grain start in the same timer tick, at the grain's
    edge (the batching that halves per-check CPU at 200 checks/s), never before they are due."""
    gate = Gate()
    gate.open.set()
    sched = Scheduler(gate, max_concurrent=10, granularity=0.25)
    loop = asyncio.get_running_loop()
    edge = math.ceil((loop.time() + 0.1) / 0.25) * 0.25
    sched.start(
        [Job("a", 3600.0, 60.0), Job("b", 3600.0, 60.0)], first_due={"a": edge - 0.09, "b": edge - 0.01}
    )
    await gate.wait_runs(2)
    assert loop.time() >= edge - 0.001
    assert sched.stats.last_tick == pytest.approx(edge, abs=0.05)
    await sched.stop(1.0)


@pytest.mark.parametrize(
    ("checks", "interval", "grain"),
    [(1000, 5.0, 0.25), (1000, 1.0, 0.064), (100_000, 1.0, 0.01), (0, 60.0, 0.25)],
    ids=["200/s: coarsest", "1000/s: 64 per grain", "floor", "no jobs"],
)
async def test_auto_grain_never_makes_a_burst_larger_than_may_run(
    checks: int, interval: float, grain: float
) -> None:
    sched = Scheduler(Gate(), max_concurrent=64)
    sched.start([Job(f"c{i}", interval, interval) for i in range(checks)])
    assert sched.grain == pytest.approx(grain)
    await sched.stop(1.0)
