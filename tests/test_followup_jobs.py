"""When the follow-up pass runs (daemon.jobs): window edges planned from the config, APScheduler only
for configs with recurring windows, and a pass run at the edge itself."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from watchd import config
from watchd.core.clock import FakeClock
from watchd.daemon.jobs import FollowUpJobs, edges

H = 3600.0
MON_2200_UTC = dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.UTC).timestamp()  # Mon 23:00 CET


def load(tmp_path: Path, windows: str) -> config.Config:
    path = tmp_path / "watchd.yaml"
    path.write_text(
        f"host: h\ndata_dir: {tmp_path / 'data'}\napi: {{enabled: false}}\n"
        "checks:\n  a: {command: [/bin/true]}\n" + windows
    )
    return config.load(str(path))


@pytest.mark.parametrize(
    ("windows", "until", "expected"),
    [
        ("", 6 * H, []),
        (
            "maintenance:\n  windows:\n    patch: {days: [tue], start: '00:00', duration: 2h}\n",
            6 * H,
            [MON_2200_UTC + H, MON_2200_UTC + 3 * H],  # Tue 00:00 and 02:00 CET
        ),
        (
            "maintenance:\n  reminder_before: 30m\n"
            "  windows:\n    patch: {days: [tue], start: '00:00', duration: 2h, announce: true}\n",
            6 * H,
            [MON_2200_UTC + H - 1800, MON_2200_UTC + H, MON_2200_UTC + 3 * H],
        ),
        (
            "maintenance:\n  windows:\n    patch: {days: [tue], start: '00:00', duration: 2h}\n",
            0.5 * H,
            [],
        ),
    ],
    ids=["no-windows", "start-and-end", "reminder", "beyond-horizon"],
)
def test_edges(tmp_path: Path, windows: str, until: float, expected: list[float]) -> None:
    """A window's start and end (and its reminder) are edges; nothing outside (now, until]."""
    cfg = load(tmp_path, windows)
    assert edges(cfg, MON_2200_UTC, MON_2200_UTC + until) == expected


async def test_a_pass_runs_at_a_window_edge(tmp_path: Path) -> None:
    """With a window starting 0.3 s ahead (on the injected clock), a pass runs then, not an hour later."""
    cfg = load(tmp_path, "maintenance:\n  windows:\n    patch: {days: [tue], start: '00:00', duration: 2h}\n")
    clock = FakeClock(MON_2200_UTC + H - 0.3)  # Tue 00:00 CET is 0.3 s away
    passes: list[float] = []
    second = asyncio.Event()

    async def tick() -> None:
        passes.append(clock.time())
        if len(passes) == 2:
            second.set()

    jobs = FollowUpJobs(tick, lambda: cfg, clock)  # followup_interval is 60 s by default
    jobs.start()
    try:
        await asyncio.wait_for(second.wait(), timeout=5)
    finally:
        await jobs.stop()
    assert len(passes) == 2  # the start pass, then the edge pass; the interval pass is 60 s away


def test_a_daemon_without_windows_does_not_load_apscheduler(tmp_path: Path) -> None:
    """A plugin-only daemon runs its follow-up passes without importing APScheduler (about 4 MB)."""
    load(tmp_path, "")
    code = (
        "import asyncio, sys\n"
        "from watchd import config\n"
        "from watchd.daemon import Daemon\n"
        f"d = Daemon(config.load({str(tmp_path / 'watchd.yaml')!r}))\n"
        "async def main():\n"
        "    await d.start()\n"
        "    async def first_pass():\n"
        "        while d.jobs.passes < 1: await asyncio.sleep(0.01)\n"
        "    await asyncio.wait_for(first_pass(), 10)\n"
        "    await d.stop()\n"
        "asyncio.run(main())\n"
        "print('apscheduler' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
