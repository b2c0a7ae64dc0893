"""Blocking reads off the loop: timeouts become UNKNOWN results and stuck reads do not pile up threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from watchd.core.model import State
from watchd.nagios.range import Thresholds
from watchd.sources.resources import disk
from watchd.sources.resources.disk import DiskFigures, DiskSampler, DiskThresholds, Mount
from watchd.sources.resources.memory import MemorySampler
from watchd.sources.resources.offload import Offloader, SampleTimeout, Saturated, StillBlocked


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """Released at the end of each test so no blocked thread outlives it."""
    event = threading.Event()
    yield event
    event.set()


async def test_result_is_returned() -> None:
    """A quick call returns its value."""
    assert await Offloader().call("k", lambda: 42, 1.0) == 42


async def test_exception_is_passed_on() -> None:
    """What the function raised reaches the caller."""

    def boom() -> None:
        raise OSError("no such file")

    with pytest.raises(OSError, match="no such file"):
        await Offloader().call("k", boom, 1.0)


async def test_stuck_call_times_out_then_is_skipped(gate: threading.Event) -> None:
    """A call that hangs times out; the next call for the same key is refused at once, not started."""
    off = Offloader()
    with pytest.raises(SampleTimeout, match=r"timed out after 0\.05s reading /mnt/nfs"):
        await off.call("statvfs:/mnt/nfs", gate.wait, 0.05, "/mnt/nfs")
    with pytest.raises(StillBlocked, match="/mnt/nfs: previous read still blocked"):
        await off.call("statvfs:/mnt/nfs", gate.wait, 0.05, "/mnt/nfs")
    assert list(off.busy()) == ["statvfs:/mnt/nfs"]
    assert await off.call("other", lambda: "fine", 1.0) == "fine"  # other keys are unaffected
    gate.set()
    for _ in range(100):  # the abandoned thread finishes and frees its key
        if not off.busy():
            break
        await asyncio.sleep(0.01)
    assert await off.call("statvfs:/mnt/nfs", lambda: "back", 1.0) == "back"


async def test_thread_cap(gate: threading.Event) -> None:
    """With max_threads stuck calls, a new key is refused instead of starting yet another thread."""
    off = Offloader(max_threads=2)
    for key in ("a", "b"):
        with pytest.raises(SampleTimeout):
            await off.call(key, gate.wait, 0.01)
    with pytest.raises(Saturated):
        await off.call("c", lambda: 1, 1.0)


async def test_sampler_timeout_is_unknown(gate: threading.Event, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sampler whose read hangs answers UNKNOWN 'timed out after Ns' within the check timeout."""
    from watchd.sources.resources import memory

    monkeypatch.setattr(memory, "_read_memory", gate.wait)
    source = MemorySampler("mem", Thresholds(), Thresholds(), offloader=Offloader())
    r = await source.run(0.2)
    assert r.state is State.UNKNOWN
    assert r.summary.startswith("MEMORY UNKNOWN - timed out after")
    assert r.duration_s < 0.2


async def test_stale_mount_is_unknown_and_skipped(
    gate: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One hanging mount is UNKNOWN while the others are still measured; the next run skips it."""
    mounts = [Mount("/", "/dev/vda", "ext4"), Mount("/mnt/nfs", "srv:/export", "nfs4")]
    calls: list[str] = []

    def fake_statvfs(mount: str) -> DiskFigures:
        calls.append(mount)
        if mount == "/mnt/nfs":
            gate.wait()
        return DiskFigures(mount, 100, 50, 50, 10, 5)

    monkeypatch.setattr(disk, "_list_mounts", lambda: mounts)
    monkeypatch.setattr(disk, "_statvfs", fake_statvfs)
    source = DiskSampler("disk", (), frozenset(), DiskThresholds(), offloader=Offloader())
    first = await source.run(0.3)
    assert first.state is State.UNKNOWN
    assert "/mnt/nfs" in first.summary
    assert "timed out" in first.summary
    assert "/:used_pct" in {p.label for p in first.perfdata}
    second = await source.run(0.3)
    assert "previous read still blocked" in second.summary
    assert calls.count("/mnt/nfs") == 1  # no second thread was started for the stuck mount
