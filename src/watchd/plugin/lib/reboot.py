"""Whether the host needs a reboot: the Debian/Ubuntu flag file, and optionally a newer installed kernel.

`/run/reboot-required` is written by package hooks (update-notifier-common on Ubuntu, needrestart or
unattended-upgrades on Debian); `.pkgs` beside it names the packages that asked. Plain Debian kernels do
not write the flag, hence the kernel comparison: the running release (`/proc/sys/kernel/osrelease`) against
the newest `/boot/vmlinuz-*` in Debian version order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from watchd.plugin.lib.debversion import sort_key


@dataclass(frozen=True, slots=True)
class Flag:
    since: float  # mtime of the flag file: when the reboot became necessary
    packages: tuple[str, ...]


def read_flag(root: Path) -> Flag | None:
    flag = root / "run/reboot-required"
    try:
        since = flag.stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        text = (root / "run/reboot-required.pkgs").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        text = ""
    # One package per line, repeated once per upgrade that asked: keep the first occurrence, in order.
    packages = tuple(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
    return Flag(since, packages)


@dataclass(frozen=True, slots=True)
class Kernel:
    running: str
    newest: str
    newest_since: float  # mtime of the newest kernel image: when it was installed

    @property
    def outdated(self) -> bool:
        return self.running != self.newest


def read_kernel(root: Path) -> Kernel | None:
    """None when there are no /boot/vmlinuz-* images (containers, some cloud images)."""
    running = (root / "proc/sys/kernel/osrelease").read_text(encoding="ascii", errors="replace").strip()
    images = {p.name.removeprefix("vmlinuz-"): p for p in (root / "boot").glob("vmlinuz-*")}
    if not images:
        return None
    newest = max(images, key=sort_key)
    return Kernel(running, newest, os.stat(images[newest]).st_mtime)
