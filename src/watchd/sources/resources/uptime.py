"""`uptime` (recent reboot detection) and `reboot_required` (Debian's /run/reboot-required flag)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from watchd.core.model import State
from watchd.nagios.range import Thresholds
from watchd.sources import BuildContext, register
from watchd.sources.params import Params
from watchd.sources.resources.base import Sampler
from watchd.sources.verdict import Figure, Verdict, judge

REBOOT_REQUIRED = "/run/reboot-required"  # written by update-notifier-common / unattended-upgrades hooks
MAX_PKGS_LISTED = 20


def human_duration(s: float) -> str:
    """`3 d 4 h`, `2 h 5 min`, `42 s`: precise enough for a summary."""
    s = max(int(s), 0)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def evaluate_uptime(uptime_s: float, t: Thresholds) -> Verdict:
    fig = Figure("uptime", uptime_s, f"up {human_duration(uptime_s)}", "s", t, 0)
    verdict = judge([fig], f"up {human_duration(uptime_s)}")
    if verdict.state is not State.OK:  # say what a low uptime means
        return Verdict(
            verdict.state, f"rebooted {human_duration(uptime_s)} ago ({fig.problem_text()})", verdict.perfdata
        )
    return verdict


def _read_uptime() -> float:
    # CLOCK_BOOTTIME is what /proc/uptime shows (suspend included), without parsing a file.
    return time.clock_gettime(time.CLOCK_BOOTTIME)


class UptimeSampler(Sampler):
    kind = "UPTIME"
    what = "uptime"

    def __init__(self, name: str, thresholds: Thresholds, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.thresholds = thresholds

    async def sample(self, timeout: float) -> Verdict:
        return evaluate_uptime(_read_uptime(), self.thresholds)  # a clock read: no need to leave the loop


@dataclass(frozen=True, slots=True)
class RebootFlag:
    required: bool
    age_s: float = 0.0  # how long the flag has been there
    packages: tuple[str, ...] = ()


def evaluate_reboot(flag: RebootFlag, state_if_required: State) -> Verdict:
    perf = (
        Figure("reboot_required", int(flag.required), "", "", Thresholds(), 0, 1).perf,
        Figure("age", flag.age_s, "", "s", Thresholds(), 0).perf,
    )
    if not flag.required:
        return Verdict(State.OK, "no reboot required", perf)
    text = f"reboot required since {human_duration(flag.age_s)}"
    if flag.packages:
        shown = ", ".join(flag.packages[:5]) + (" ..." if len(flag.packages) > 5 else "")
        text += f" ({len(flag.packages)} packages: {shown})"
    lines = "\n".join(flag.packages[:MAX_PKGS_LISTED])
    return Verdict(state_if_required, text, perf, lines)


def read_reboot_flag(path: str, now: float) -> RebootFlag:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return RebootFlag(False)
    packages: tuple[str, ...] = ()
    try:
        with open(path + ".pkgs", encoding="utf-8", errors="replace") as f:
            # Packages are listed once per trigger; keep the first mention of each.
            packages = tuple(
                dict.fromkeys(line.strip() for line in f.read(64 * 1024).splitlines() if line.strip())
            )
    except FileNotFoundError:
        pass
    return RebootFlag(True, max(now - st.st_mtime, 0.0), packages)


class RebootRequiredSampler(Sampler):
    kind = "REBOOT"
    what = "the reboot-required flag"

    def __init__(self, name: str, path: str, state_if_required: State, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.path = path
        self.state_if_required = state_if_required

    async def sample(self, timeout: float) -> Verdict:
        now = self.clock.time()
        flag = await self.offloader.call(
            f"reboot:{self.name}", lambda: read_reboot_flag(self.path, now), timeout, self.path
        )
        return evaluate_reboot(flag, self.state_if_required)


@register("uptime")
def build_uptime(name: str, params: Mapping[str, Any], ctx: BuildContext) -> UptimeSampler:
    p = Params(params)
    thresholds = p.thresholds("warning", "critical", warn_default="600:")
    p.done()
    return UptimeSampler(name, thresholds)


@register("reboot_required")
def build_reboot_required(name: str, params: Mapping[str, Any], ctx: BuildContext) -> RebootRequiredSampler:
    p = Params(params)
    path = os.path.join(ctx.config_dir, p.text("path", REBOOT_REQUIRED) or REBOOT_REQUIRED)
    state = State[(p.text("state", "warning", choices=("warning", "critical")) or "warning").upper()]
    p.done()
    return RebootRequiredSampler(name, path, state)
