"""`process`: how many processes match (by name, command line regex and user), their CPU % and RSS.

Every given criterion must match. CPU % is a share of one core (as `top` shows it), summed over the
matched processes, from CPU-time deltas between runs; a process born during the interval is measured
over its lifetime. The first run scans twice, 0.2 s apart, so its CPU figure is real too.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

from watchd.core.model import State
from watchd.nagios.range import Thresholds
from watchd.sources import BuildContext, register
from watchd.sources.params import Params
from watchd.sources.resources.base import Sampler
from watchd.sources.verdict import Figure, Verdict, human_bytes, judge

PRIME_INTERVAL_S = 0.2
MAX_LISTED = 20  # processes named in the long output

ProcKey = tuple[int, float]  # (pid, create_time): a recycled pid is a different process


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str | None = None
    cmdline: re.Pattern[str] | None = None
    user: str | None = None

    def matches(self, name: str, cmdline: str, user: str) -> bool:
        return (
            (self.name is None or name == self.name)
            and (self.cmdline is None or self.cmdline.search(cmdline) is not None)
            and (self.user is None or user == self.user)
        )

    def describe(self) -> str:
        parts = []
        if self.name is not None:
            parts.append(f"name {self.name!r}")
        if self.cmdline is not None:
            parts.append(f"cmdline /{self.cmdline.pattern}/")
        if self.user is not None:
            parts.append(f"user {self.user!r}")
        return " and ".join(parts)


@dataclass(frozen=True, slots=True)
class ProcInfo:
    pid: int
    create_time: float  # epoch seconds
    name: str
    cmdline: str
    cpu_s: float  # user + system CPU seconds so far
    rss: int

    @property
    def key(self) -> ProcKey:
        return (self.pid, self.create_time)


@dataclass(frozen=True, slots=True)
class ProcessThresholds:
    count: Thresholds = field(default_factory=lambda: Thresholds(crit="1:"))
    cpu: Thresholds = field(default_factory=Thresholds)
    rss: Thresholds = field(default_factory=Thresholds)


def cpu_percent(
    procs: Sequence[ProcInfo], prev: Mapping[ProcKey, float], interval_s: float, now: float
) -> float:
    """Summed CPU % of one core over the interval; new processes over their (shorter) lifetime."""
    total = 0.0
    for p in procs:
        before = prev.get(p.key)
        if before is not None and interval_s > 0:
            total += max(p.cpu_s - before, 0.0) / interval_s
        else:
            total += p.cpu_s / max(now - p.create_time, 0.01)
    return 100.0 * total


def evaluate_processes(
    procs: Sequence[ProcInfo], cpu_pct: float, matcher: Matcher, t: ProcessThresholds
) -> Verdict:
    count = len(procs)
    rss = sum(p.rss for p in procs)
    what = matcher.describe()
    figures = [
        Figure("count", count, f"{count} processes matching {what}", "", t.count, 0),
        Figure("cpu_pct", cpu_pct, f"cpu {cpu_pct:.1f}%", "%", t.cpu, 0),
        Figure("rss", rss, f"rss {human_bytes(rss)}", "B", t.rss, 0),
    ]
    plural = "es" if count != 1 else ""
    ok = f"{count} process{plural} matching {what} (cpu {cpu_pct:.1f}%, rss {human_bytes(rss)})"
    verdict = judge(figures, ok)
    if count == 0 and verdict.state is not State.OK:
        verdict = Verdict(verdict.state, f"no process matching {what}", verdict.perfdata)
    lines = [f"pid {p.pid}: {p.cmdline or p.name}"[:200] for p in procs[:MAX_LISTED]]
    if count > MAX_LISTED:
        lines.append(f"... and {count - MAX_LISTED} more")
    return Verdict(verdict.state, verdict.text, verdict.perfdata, "\n".join(lines))


# process_iter() keeps a module-global cache of Process objects: one scan at a time.
_SCAN_LOCK = threading.Lock()
_ATTRS = ["pid", "name", "cmdline", "username", "create_time", "cpu_times", "memory_info"]


def scan(matcher: Matcher) -> list[ProcInfo]:
    """Matching processes; ones that vanish or deny access mid-scan are skipped or read as far as allowed."""
    with _SCAN_LOCK:
        return _scan(matcher)


def _scan(matcher: Matcher) -> list[ProcInfo]:
    own = os.getpid()
    found = []
    for proc in psutil.process_iter(_ATTRS, ad_value=None):
        info = proc.info
        if info["pid"] == own:
            continue  # like pgrep: the monitor never counts itself
        cmdline = " ".join(info["cmdline"] or ())
        if not matcher.matches(info["name"] or "", cmdline, info["username"] or ""):
            continue
        cpu = info["cpu_times"]
        mem = info["memory_info"]
        found.append(
            ProcInfo(
                pid=info["pid"],
                create_time=info["create_time"] or 0.0,
                name=info["name"] or "",
                cmdline=cmdline,
                cpu_s=(cpu.user + cpu.system) if cpu else 0.0,
                rss=mem.rss if mem else 0,
            )
        )
    return found


class ProcessSampler(Sampler):
    kind = "PROCS"
    what = "the process table"

    def __init__(self, name: str, matcher: Matcher, thresholds: ProcessThresholds, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.matcher = matcher
        self.thresholds = thresholds
        self._prev: dict[ProcKey, float] | None = None
        self._prev_at = 0.0

    def _collect(self) -> tuple[list[ProcInfo], float]:
        if self._prev is None:
            self._prev = {p.key: p.cpu_s for p in scan(self.matcher)}
            self._prev_at = self.clock.monotonic()
            time.sleep(PRIME_INTERVAL_S)
        procs = scan(self.matcher)
        at = self.clock.monotonic()
        cpu = cpu_percent(procs, self._prev, at - self._prev_at, self.clock.time())
        self._prev = {p.key: p.cpu_s for p in procs}
        self._prev_at = at
        return procs, cpu

    async def sample(self, timeout: float) -> Verdict:
        procs, cpu = await self.offloader.call(f"process:{self.name}", self._collect, timeout, self.what)
        return evaluate_processes(procs, cpu, self.matcher, self.thresholds)


@register("process")
def build_process(name: str, params: Mapping[str, Any], ctx: BuildContext) -> ProcessSampler:
    p = Params(params)
    matcher = Matcher(name=p.text("name"), cmdline=p.regex("cmdline"), user=p.text("user"))
    if matcher.name is None and matcher.cmdline is None and matcher.user is None:
        raise p.error("name", "give at least one of name, cmdline or user to match processes")
    thresholds = ProcessThresholds(
        count=p.thresholds("warning", "critical", crit_default="1:"),
        cpu=p.thresholds("cpu_warning", "cpu_critical"),
        rss=p.thresholds("rss_warning", "rss_critical"),
    )
    p.done()
    return ProcessSampler(name, matcher, thresholds)
