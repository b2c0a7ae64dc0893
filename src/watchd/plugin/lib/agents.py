"""Security agents: ClamAV signature databases, agent processes, rkhunter scan logs."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

CLAMAV_DATABASES = ("main", "daily", "bytecode")
CVD_HEADER = 512
COMM_MAX = 15  # the kernel truncates /proc/PID/comm to 15 characters


@dataclass(frozen=True, slots=True)
class ClamDb:
    path: Path
    built: float  # epoch seconds: from the header when readable, else the file's mtime
    version: int | None


def read_cvd(path: Path) -> ClamDb:
    """A .cvd/.cld file's version and build time.

    The 512-byte header is `ClamAV-VDB:<date>:<version>:<sigs>:<flevel>:<md5>:<dsig>:<builder>:<stime>`; the
    date itself contains a colon (`08:28`), so fields are counted from the end. freshclam rewrites the
    header of a .cld when it applies an update, so the build time is the signatures' age, unlike the mtime
    of a file that was merely copied.
    """
    with path.open("rb") as fh:
        header = fh.read(CVD_HEADER).decode("ascii", errors="replace").strip(" \0")
    fields = header.split(":")
    if fields[0] == "ClamAV-VDB" and len(fields) >= 9:
        try:
            return ClamDb(path, float(fields[-1]), int(fields[-7]))
        except ValueError:
            pass
    return ClamDb(path, path.stat().st_mtime, None)


def clamav_databases(db_dir: Path) -> list[ClamDb]:
    """main/daily/bytecode as .cvd or .cld (a .cld wins: freshclam keeps the updated copy there)."""
    out: list[ClamDb] = []
    for name in CLAMAV_DATABASES:
        for suffix in (".cld", ".cvd"):
            path = db_dir / (name + suffix)
            if path.is_file():
                out.append(read_cvd(path))
                break
    return out


@dataclass(frozen=True, slots=True)
class Process:
    pid: int
    comm: str
    argv0: str
    zombie: bool


def list_processes(proc_root: Path = Path("/proc")) -> list[Process]:
    """All processes visible in `proc_root` (others' too, unless /proc is mounted with hidepid)."""
    out: list[Process] = []
    for entry in proc_root.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text(encoding="utf-8", errors="replace").rstrip("\n")
            cmdline = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # exited while we looked
        argv0 = cmdline.split(b"\0", 1)[0].decode("utf-8", errors="replace")
        state = stat.rpartition(")")[2].split()[:1]  # "pid (comm) S ...": comm may contain ") "
        out.append(Process(int(entry.name), comm, argv0, zombie=state == ["Z"]))
    return out


def count_running(processes: list[Process], name: str) -> int:
    """Live processes named `name`, by comm (truncated by the kernel) or by argv[0]'s basename."""
    return sum(
        1
        for p in processes
        if not p.zombie and (p.comm == name[:COMM_MAX] or os.path.basename(p.argv0) == name)
    )


_LOG_LINE = re.compile(r"^\[\s*[\d:]+\s*\]\s*(?P<kind>Info|Warning):\s*(?P<text>.*)$")


@dataclass
class RkhunterLog:
    mtime: float
    started: bool = False
    finished: bool = False  # "End date is" written: the scan ran to completion
    warnings: list[str] = field(default_factory=list)


def read_rkhunter_log(path: Path) -> RkhunterLog:
    """rkhunter rewrites its log on every run, so the mtime is when the last scan last wrote to it."""
    log = RkhunterLog(path.stat().st_mtime)
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            m = _LOG_LINE.match(line.rstrip("\n"))
            if not m:
                continue
            text = m.group("text")
            if m.group("kind") == "Warning":
                log.warnings.append(text)
            elif text.startswith("Start date is"):
                log.started = True
            elif text.startswith("End date is"):
                log.finished = True
    return log
