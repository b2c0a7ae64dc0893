"""Resource checks on this machine, cross-checked against /proc and statvfs.

Thresholds are chosen relative to the value just measured, so the expected state is certain.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from watchd.core.model import CheckResult, State
from watchd.sources import BuildContext, factory_for


def build(kind: str, params: dict[str, Any], ctx: BuildContext) -> Any:
    return factory_for(kind)(kind, params, ctx)


def perf(result: CheckResult) -> dict[str, float]:
    return {p.label: math.nan if p.value is None else p.value for p in result.perfdata}


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def proc_uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def meminfo() -> dict[str, int]:
    out = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        out[key] = int(rest.split()[0]) * 1024
    return out


async def test_result_shape(ctx: BuildContext) -> None:
    """Every sampler fills the common result fields (wall start time, duration, no exit code)."""
    before = time.time()
    r = await build("memory", {}, ctx).run(5.0)
    assert r.check == "memory"
    assert before <= r.started_at <= time.time()
    assert 0 <= r.duration_s < 5
    assert r.exit_code is None


async def test_cpu_first_run_is_real(ctx: BuildContext) -> None:
    """The first run measures over its own short interval: percentages add up, no fake zero."""
    source = build("cpu", {"warning": "@0:100"}, ctx)  # alerts on any value: WARNING is certain
    for _ in range(2):
        r = await source.run(5.0)
        assert r.state is State.WARNING, r.summary
        p = perf(r)
        assert 0.0 <= p["busy"] <= 100.0
        split = p["user"] + p["system"] + p["iowait"] + p["steal"]
        assert split <= p["busy"] + p["iowait"] + 0.01


async def test_load_matches_proc_loadavg(ctx: BuildContext) -> None:
    """load1/5/15 are /proc/loadavg's (read just before and after: it updates every 5 s)."""
    before = loadavg()
    r = await build("load", {}, ctx).run(5.0)
    after = loadavg()
    p = perf(r)
    for label, b, a in zip(("load1", "load5", "load15"), before, after, strict=True):
        assert min(a, b) - 0.01 <= p[label] <= max(a, b) + 0.01
    assert r.state is State.OK


async def test_load_per_core_thresholds(ctx: BuildContext) -> None:
    """per_core divides by the CPU count; a critical range just below the value makes it CRITICAL."""
    cores = os.cpu_count() or 1
    load1 = os.getloadavg()[0] / cores
    r = await build("load", {"per_core": True, "critical": f"@0:{load1 + 100}"}, ctx).run(5.0)
    assert r.state is State.CRITICAL
    assert "per core" in r.summary


async def test_memory_matches_proc_meminfo(ctx: BuildContext) -> None:
    """Available bytes are MemAvailable (within 5% drift between the two reads)."""
    info = meminfo()
    r = await build("memory", {}, ctx).run(5.0)
    p = perf(r)
    assert p["available"] == pytest.approx(info["MemAvailable"], rel=0.05)
    expected_pct = 100.0 * (info["MemTotal"] - info["MemAvailable"]) / info["MemTotal"]
    assert p["used_pct"] == pytest.approx(expected_pct, abs=2.0)


async def test_memory_threshold_crossing(ctx: BuildContext) -> None:
    """A warning range ending below the measured used % gives WARNING, one above gives OK."""
    used = perf(await build("memory", {}, ctx).run(5.0))["used_pct"]
    below = await build("memory", {"warning": f"{max(used - 0.5, 0) / 2:.3f}"}, ctx).run(5.0)
    above = await build("memory", {"warning": f"{used + 20:.3f}"}, ctx).run(5.0)
    assert below.state is State.WARNING
    assert above.state is State.OK


async def test_swap_matches_proc_meminfo(ctx: BuildContext) -> None:
    """Swap used bytes are SwapTotal - SwapFree."""
    info = meminfo()
    r = await build("swap", {}, ctx).run(5.0)
    assert perf(r)["used"] == pytest.approx(info["SwapTotal"] - info["SwapFree"], abs=64 << 20)
    if not info["SwapTotal"]:
        assert r.summary == "SWAP OK - no swap configured"


async def test_disk_root_matches_statvfs(ctx: BuildContext) -> None:
    """/ figures are statvfs's, computed as df does."""
    r = await build("disk", {"mount": "/"}, ctx).run(5.0)
    st = os.statvfs("/")
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    p = perf(r)
    assert p["/:used_pct"] == pytest.approx(100.0 * used / (used + avail), abs=0.5)
    assert p["/:free"] == pytest.approx(avail, rel=0.01)
    if st.f_files:
        assert p["/:inodes_used_pct"] == pytest.approx(
            100.0 * (st.f_files - st.f_ffree) / st.f_files, abs=0.5
        )


async def test_disk_defaults_skip_pseudo_filesystems(ctx: BuildContext) -> None:
    """Without `mount`, /proc, /sys, /dev and tmpfs are not checked."""
    r = await build("disk", {}, ctx).run(5.0)
    labels = {p.label.rsplit(":", 1)[0] for p in r.perfdata}
    assert "/" in labels
    assert not labels & {"/proc", "/sys", "/dev", "/dev/shm"}


async def test_disk_thresholds_crossing(ctx: BuildContext) -> None:
    """Critical below the measured used % is CRITICAL; a mount that is not there is CRITICAL too."""
    used = perf(await build("disk", {"mount": "/"}, ctx).run(5.0))["/:used_pct"]
    r = await build("disk", {"mount": "/", "critical": f"{used / 2:.3f}"}, ctx).run(5.0)
    assert r.state is State.CRITICAL
    assert "/ " in r.summary
    r = await build("disk", {"mount": ["/", "/no/such/mount"]}, ctx).run(5.0)
    assert r.state is State.CRITICAL
    assert "/no/such/mount is not mounted" in r.summary


async def test_disk_io_first_run_collects_baseline(ctx: BuildContext) -> None:
    """The first run has no rate: OK, 'collecting baseline', no perfdata; the second has rates."""
    source = build("disk_io", {}, ctx)
    first = await source.run(5.0)
    assert first.state is State.OK
    assert "collecting baseline" in first.summary
    assert first.perfdata == ()
    second = await source.run(5.0)
    assert second.perfdata
    assert all(p.value is not None and p.value >= 0 for p in second.perfdata)


def _lo_bytes() -> int:
    for line in Path("/proc/net/dev").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name.strip() == "lo":
            return int(rest.split()[0])
    raise AssertionError("no lo in /proc/net/dev")


async def test_net_rates_follow_proc_net_dev(ctx: BuildContext) -> None:
    """Traffic sent over loopback between two runs shows up as at least that many bytes/s."""
    source = build("net", {"interfaces": ["lo"], "warning": "1"}, ctx)
    assert (await source.run(5.0)).perfdata == ()
    t0, b0 = time.monotonic(), _lo_bytes()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(50):
            s.sendto(b"x" * 1000, ("127.0.0.1", 9))  # discard port: nobody listens, the bytes still cross lo
    r = await source.run(5.0)
    moved, elapsed = _lo_bytes() - b0, time.monotonic() - t0
    p = perf(r)
    assert p["lo:rx_bytes_per_s"] >= 50_000 / (elapsed + 1)
    assert moved >= 50_000
    assert set(p) >= {"lo:rx_errors_per_s", "lo:tx_errors_per_s", "lo:rx_drops_per_s", "lo:tx_drops_per_s"}
    assert r.state is State.WARNING  # more than 1 byte/s crossed lo


async def test_net_missing_interface_is_unknown(ctx: BuildContext) -> None:
    """A named interface that does not exist is reported, not silently skipped."""
    source = build("net", {"interfaces": ["lo", "nosuch0"]}, ctx)
    await source.run(5.0)
    r = await source.run(5.0)
    assert r.state is State.UNKNOWN
    assert "interface nosuch0 not found" in r.summary


async def test_process_found_then_gone(ctx: BuildContext) -> None:
    """A process started by the test is found by name and argv marker; once killed, CRITICAL."""
    marker = f"watchd-test-{uuid.uuid4().hex[:12]}"
    child = await asyncio.create_subprocess_exec(marker, "30", executable="/bin/sleep")  # argv[0]: the marker
    try:
        source = build("process", {"name": "sleep", "cmdline": f"^{marker} "}, ctx)
        r = await source.run(5.0)
        assert r.state is State.OK, r.summary
        assert perf(r)["count"] == 1
        assert perf(r)["rss"] > 0
        assert f"pid {child.pid}" in r.long_output
    finally:
        child.kill()
        await child.wait()
    r = await source.run(5.0)
    assert r.state is State.CRITICAL
    assert f"no process matching name 'sleep' and cmdline /^{marker} /" in r.summary


async def test_process_cpu_of_a_busy_child(ctx: BuildContext) -> None:
    """A child spinning on a core shows a high CPU % from the first run on (10 %: on a loaded 2-core
    machine its fair share can be well under half a core; an idle process shows about 0)."""
    marker = f"watchd-spin-{uuid.uuid4().hex[:12]}"
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", "while True: pass", marker)
    try:
        r = await build("process", {"cmdline": marker, "cpu_warning": "10"}, ctx).run(5.0)
        assert perf(r)["cpu_pct"] > 10
        assert r.state is State.WARNING
    finally:
        child.kill()
        await child.wait()


async def test_uptime_matches_proc_uptime(ctx: BuildContext) -> None:
    """Uptime is /proc/uptime's first field; a range above it makes the check warn."""
    expected = proc_uptime()
    r = await build("uptime", {"warning": f"{expected + 3600:.0f}:"}, ctx).run(5.0)
    assert perf(r)["uptime"] == pytest.approx(expected, abs=2.0)
    assert r.state is State.WARNING
    assert "rebooted" in r.summary


async def test_reboot_required_flag(ctx: BuildContext, tmp_path: Path) -> None:
    """The Debian flag file makes the check WARNING (or the configured state), with its packages."""
    flag = tmp_path / "reboot-required"
    source = build("reboot_required", {"path": str(flag), "state": "critical"}, ctx)
    assert (await source.run(5.0)).state is State.OK
    flag.write_text("*** System restart required ***\n")
    (tmp_path / "reboot-required.pkgs").write_text("linux-image-amd64\nlibc6\nlinux-image-amd64\n")
    r = await source.run(5.0)
    assert r.state is State.CRITICAL
    assert "2 packages: linux-image-amd64, libc6" in r.summary
