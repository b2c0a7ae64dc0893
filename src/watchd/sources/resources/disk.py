"""`disk`: used %, free bytes and inodes used % per mounted filesystem.

Figures come from statvfs, as `df` computes them: used % is used / (used + available to users), so the
blocks reserved for root count as neither. Each mount is read on its own thread, keyed by mount point,
so one stale NFS mount yields UNKNOWN for that mount only, and later runs skip it while the stuck read
is still pending instead of piling up threads.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import psutil

from watchd.core.model import State
from watchd.nagios.range import Thresholds
from watchd.plugin import worst
from watchd.sources import BuildContext, register
from watchd.sources.params import Params
from watchd.sources.resources.base import Sampler
from watchd.sources.resources.offload import OffloadError
from watchd.sources.verdict import Figure, Verdict, human_bytes

# Filesystems that hold no disk space worth watching: kernel interfaces, memory-backed, read-only
# images (squashfs snaps and ISO images are always 100% full) and container layers (overlay: the
# space lives on the host filesystem, which is checked itself). Name a mount in `mount` to check it
# anyway; `exclude_fstypes` replaces this list. The root filesystem is checked whatever its type.
PSEUDO_FSTYPES = (
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fuse.gvfsd-fuse",
    "fuse.lxcfs",
    "fuse.portal",
    "fusectl",
    "hugetlbfs",
    "iso9660",
    "mqueue",
    "nfsd",
    "nsfs",
    "overlay",
    "proc",
    "pstore",
    "ramfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "sysfs",
    "tmpfs",
    "tracefs",
)


@dataclass(frozen=True, slots=True)
class Mount:
    mountpoint: str
    device: str
    fstype: str


@dataclass(frozen=True, slots=True)
class DiskFigures:
    mount: str
    total: int  # bytes
    free: int  # bytes available to unprivileged users
    used: int  # bytes
    files: int  # inodes; 0 where the filesystem has no fixed inode table (btrfs)
    files_free: int

    @property
    def used_pct(self) -> float:
        size = self.used + self.free
        return 100.0 * self.used / size if size else 0.0

    @property
    def inodes_used_pct(self) -> float | None:
        return 100.0 * (self.files - self.files_free) / self.files if self.files else None


@dataclass(frozen=True, slots=True)
class DiskThresholds:
    used: Thresholds = field(default_factory=Thresholds)
    free: Thresholds = field(default_factory=Thresholds)
    inodes: Thresholds = field(default_factory=Thresholds)


@dataclass(frozen=True, slots=True)
class MountProblem:
    """A mount that yielded no figures, and the state that deserves."""

    mount: str
    state: State
    text: str


ROOT = "/"
# The root when the mount table has no entry for it: in a chroot, /proc/self/mounts leaves out the
# mounts above the chroot directory, the one holding the root included. statvfs("/") still works.
UNLISTED_ROOT = Mount(ROOT, "", "")


def select_mounts(
    mounts: Sequence[Mount], wanted: Sequence[str], exclude_fstypes: frozenset[str]
) -> tuple[list[Mount], list[MountProblem]]:
    """The mounts to check. Named mounts are taken whatever their type; one that is not mounted is
    CRITICAL (statvfs on it would silently measure the parent filesystem). Without names: the root
    filesystem whatever its type (overlay in a container, tmpfs in a live system), then every other
    mount of a real filesystem, once per device (bind mounts repeat it)."""
    by_point = {m.mountpoint: m for m in mounts}  # later entries win: the mount on top
    root = by_point.pop(ROOT, UNLISTED_ROOT)
    if wanted:
        chosen: list[Mount] = []
        missing: list[MountProblem] = []
        for path in wanted:
            norm = os.path.normpath(path)
            if norm == ROOT:
                chosen.append(root)
            elif norm in by_point:
                chosen.append(by_point[norm])
            else:
                missing.append(MountProblem(norm, State.CRITICAL, f"{norm} is not mounted"))
        return chosen, missing
    chosen = [root]
    seen = {root.device} if _names_a_device(root.device) else set()
    for m in by_point.values():
        if m.fstype in exclude_fstypes or m.device in seen:
            continue
        if _names_a_device(m.device):
            seen.add(m.device)
        chosen.append(m)
    return chosen, []


def _names_a_device(source: str) -> bool:
    """A block device or network share names one filesystem; `tmpfs`, `overlay` or `none` do not."""
    return source.startswith("/") or ":" in source


def evaluate_disks(
    figures: Sequence[DiskFigures], problems: Sequence[MountProblem], t: DiskThresholds
) -> Verdict:
    perf = []
    faults: list[str] = []
    states: list[State] = []
    lines: list[str] = []
    for f in figures:
        items = [
            Figure(
                f"{f.mount}:used_pct", f.used_pct, f"{f.mount} {f.used_pct:.1f}% used", "%", t.used, 0, 100
            ),
            Figure(
                f"{f.mount}:free", f.free, f"{f.mount} {human_bytes(f.free)} free", "B", t.free, 0, f.total
            ),
        ]
        inodes = f.inodes_used_pct
        if inodes is not None:
            text = f"{f.mount} inodes {inodes:.1f}% used"
            items.append(Figure(f"{f.mount}:inodes_used_pct", inodes, text, "%", t.inodes, 0, 100))
        for item in items:
            perf.append(item.perf)
            states.append(item.state)
            if item.state is not State.OK:
                faults.append(item.problem_text())
        inode_text = "" if inodes is None else f", inodes {inodes:.1f}% used"
        space = f"{human_bytes(f.free)} free of {human_bytes(f.total)}"
        lines.append(f"{f.mount}: {f.used_pct:.1f}% used, {space}{inode_text}")
    for p in problems:
        states.append(p.state)
        faults.append(p.text)
        lines.append(p.text)
    state = worst(*states)
    if faults:
        text = ", ".join(faults)
    elif figures:
        text = ", ".join(f"{f.mount} {f.used_pct:.0f}% used" for f in figures)
    else:
        text = "no filesystems to check"
    return Verdict(state, text, tuple(perf), "\n".join(lines))


def _list_mounts() -> list[Mount]:
    return [Mount(p.mountpoint, p.device, p.fstype) for p in psutil.disk_partitions(all=True)]


def _statvfs(mount: str) -> DiskFigures:
    st = os.statvfs(mount)
    return DiskFigures(
        mount=mount,
        total=st.f_blocks * st.f_frsize,
        free=st.f_bavail * st.f_frsize,
        used=(st.f_blocks - st.f_bfree) * st.f_frsize,
        files=st.f_files,
        files_free=st.f_ffree,
    )


class DiskSampler(Sampler):
    kind = "DISK"
    what = "filesystem usage"

    def __init__(
        self,
        name: str,
        mounts: tuple[str, ...],
        exclude_fstypes: frozenset[str],
        thresholds: DiskThresholds,
        **kw: Any,
    ) -> None:
        super().__init__(name, **kw)
        self.mounts = mounts
        self.exclude_fstypes = exclude_fstypes
        self.thresholds = thresholds

    async def sample(self, timeout: float) -> Verdict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        listed = await self.offloader.call(f"mounts:{self.name}", _list_mounts, timeout, "the mount table")
        chosen, problems = select_mounts(listed, self.mounts, self.exclude_fstypes)
        remaining = max(deadline - loop.time(), 0.0)
        # Keyed by mount point, not by check: two checks must not each leave a thread stuck on one mount.
        outcomes = await asyncio.gather(
            *(
                self.offloader.call(
                    f"statvfs:{m.mountpoint}", partial(_statvfs, m.mountpoint), remaining, m.mountpoint
                )
                for m in chosen
            ),
            return_exceptions=True,
        )
        figures: list[DiskFigures] = []
        for m, out in zip(chosen, outcomes, strict=True):
            if isinstance(out, DiskFigures):
                figures.append(out)
            elif isinstance(out, OffloadError):
                problems.append(MountProblem(m.mountpoint, State.UNKNOWN, str(out)))
            elif isinstance(out, Exception):
                problems.append(
                    MountProblem(m.mountpoint, State.UNKNOWN, f"{m.mountpoint}: statvfs failed: {out}")
                )
            else:
                raise out  # CancelledError and friends are not ours to swallow
        return evaluate_disks(figures, problems, self.thresholds)


@register("disk")
def build_disk(name: str, params: Mapping[str, Any], ctx: BuildContext) -> DiskSampler:
    p = Params(params)
    mounts = p.text_list("mount")
    for m in mounts:
        if not m.startswith("/"):
            raise p.error("mount", f"must be an absolute path, got {m!r}")
    exclude = frozenset(p.text_list("exclude_fstypes", PSEUDO_FSTYPES))
    thresholds = DiskThresholds(
        used=p.thresholds("warning", "critical"),
        free=p.thresholds("free_warning", "free_critical"),
        inodes=p.thresholds("inodes_warning", "inodes_critical"),
    )
    p.done()
    return DiskSampler(name, mounts, exclude, thresholds)
