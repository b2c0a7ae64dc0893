"""`disk_io`: per block device read/write bytes/s, operations/s and busy % (utilisation).

Linux keeps no I/O error counters in /proc/diskstats (errors are only logged), so unlike `net` there
are no error or drop rates here. Default devices: whole disks from /sys/block, without loop, ram,
zram, floppy, CD-ROM and nbd devices (partitions would count the same I/O twice).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil

from watchd.nagios.range import Thresholds
from watchd.sources import BuildContext, register
from watchd.sources.params import Params
from watchd.sources.resources.base import RateSampler
from watchd.sources.resources.rates import (
    Counters,
    DeviceFigures,
    per_s,
)
from watchd.sources.verdict import Figure

SKIP_DEVICES = re.compile(r"^(loop|ram|zram|fd|sr|nbd)\d+$")
SYS_BLOCK = "/sys/block"


@dataclass(frozen=True, slots=True)
class DiskIoThresholds:
    busy: Thresholds = field(default_factory=Thresholds)  # % of the interval the device had I/O in flight
    bytes: Thresholds = field(default_factory=Thresholds)  # read or write bytes/s
    ops: Thresholds = field(default_factory=Thresholds)  # read or write operations/s


def disk_io_figures(dev: str, r: Mapping[str, float], t: DiskIoThresholds) -> DeviceFigures:
    busy = min(r.get("busy_time", 0.0) / 10.0, 100.0)  # ms of busy time per s -> %
    figures = [
        Figure(
            f"{dev}:read_bytes_per_s",
            r["read_bytes"],
            f"{dev} read {per_s(r['read_bytes'], 'B')}",
            "B",
            t.bytes,
            0,
        ),
        Figure(
            f"{dev}:write_bytes_per_s",
            r["write_bytes"],
            f"{dev} write {per_s(r['write_bytes'], 'B')}",
            "B",
            t.bytes,
            0,
        ),
        Figure(
            f"{dev}:read_ops_per_s", r["read_count"], f"{dev} {r['read_count']:.1f} reads/s", "", t.ops, 0
        ),
        Figure(
            f"{dev}:write_ops_per_s", r["write_count"], f"{dev} {r['write_count']:.1f} writes/s", "", t.ops, 0
        ),
        Figure(f"{dev}:busy_pct", busy, f"{dev} {busy:.1f}% busy", "%", t.busy, 0, 100),
    ]
    ok = f"{dev} {busy:.0f}% busy, read {per_s(r['read_bytes'], 'B')}, write {per_s(r['write_bytes'], 'B')}"
    return DeviceFigures(dev, figures, ok)


def _whole_disks() -> set[str] | None:
    try:
        return {d for d in os.listdir(SYS_BLOCK) if not SKIP_DEVICES.match(d)}
    except OSError:
        return None  # no sysfs (container): fall back to the name filter alone


def _read_counters(devices: tuple[str, ...]) -> Counters:
    """Counters of the named devices, or of every whole disk when none are named."""
    per_disk = psutil.disk_io_counters(perdisk=True) or {}
    if devices:
        keep = set(devices)
    else:
        whole = _whole_disks()
        keep = {d for d in per_disk if not SKIP_DEVICES.match(d) and (whole is None or d in whole)}
    return {
        dev: {
            "read_bytes": c.read_bytes,
            "write_bytes": c.write_bytes,
            "read_count": c.read_count,
            "write_count": c.write_count,
            "busy_time": getattr(c, "busy_time", 0),
        }
        for dev, c in per_disk.items()
        if dev in keep
    }


class DiskIoSampler(RateSampler):
    kind = "DISK_IO"
    what = "disk I/O counters"
    noun = "device"

    def read_counters(self, names: tuple[str, ...]) -> Counters:
        return _read_counters(names)

    def figures(self, name: str, rates: Mapping[str, float]) -> DeviceFigures:
        return disk_io_figures(name, rates, self.thresholds)


@register("disk_io")
def build_disk_io(name: str, params: Mapping[str, Any], ctx: BuildContext) -> DiskIoSampler:
    p = Params(params)
    devices = tuple(d.removeprefix("/dev/") for d in p.text_list("devices"))
    thresholds = DiskIoThresholds(
        busy=p.thresholds("warning", "critical"),
        bytes=p.thresholds("bytes_warning", "bytes_critical"),
        ops=p.thresholds("ops_warning", "ops_critical"),
    )
    p.done()
    return DiskIoSampler(name, devices, thresholds)
