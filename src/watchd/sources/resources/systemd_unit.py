"""`systemd_unit`: named units must be active; optionally, no unit may be in the failed state.

Asks `systemctl` (exec, no shell) rather than D-Bus: no extra dependency, and its output is stable
API (`show -p`, `list-units --plain --no-legend`). Where systemd is not PID 1 (containers, other init
systems) the check is UNKNOWN and says so, instead of reporting every unit as missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from watchd.core.clock import Clock
from watchd.core.model import CheckResult, State
from watchd.nagios.range import Thresholds
from watchd.plugin import worst
from watchd.runtime.clock import SystemClock
from watchd.sources import BuildContext, register
from watchd.sources.params import Params
from watchd.sources.verdict import Figure, Verdict, budget, finish

RUNTIME_DIR = "/run/systemd/system"  # exists exactly when systemd is the running init (sd_booted)
MAX_OUTPUT = 1 << 20
TRANSIENT = frozenset({"activating", "deactivating", "reloading", "refreshing"})


@dataclass(frozen=True, slots=True)
class UnitState:
    unit: str
    load_state: str
    active_state: str
    sub_state: str


def parse_show(text: str, units: Sequence[str]) -> list[UnitState]:
    """`systemctl show -p LoadState,ActiveState,SubState u1 u2`: one block per unit, in order."""
    blocks = [b for b in text.strip().split("\n\n") if b.strip()]
    out = []
    for unit, block in zip(units, blocks, strict=False):
        props = dict(line.partition("=")[::2] for line in block.splitlines() if "=" in line)
        out.append(
            UnitState(
                unit, props.get("LoadState", ""), props.get("ActiveState", ""), props.get("SubState", "")
            )
        )
    return out


def parse_failed(text: str) -> list[str]:
    """Unit names from `systemctl list-units --state=failed --plain --no-legend`."""
    names = []
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] in ("●", "*"):  # older systemd marks failed units even with --plain
            fields = fields[1:]
        if fields:
            names.append(fields[0])
    return names


def unit_state(u: UnitState) -> tuple[State, str]:
    if u.load_state == "not-found":
        return State.CRITICAL, f"{u.unit} not found"
    if u.active_state == "active":
        return State.OK, f"{u.unit} active ({u.sub_state})"
    if u.active_state in TRANSIENT:
        return State.WARNING, f"{u.unit} {u.active_state} ({u.sub_state})"
    return State.CRITICAL, f"{u.unit} {u.active_state or 'unknown'} ({u.sub_state or '?'})"


def evaluate_units(units: Sequence[UnitState], failed: Sequence[str] | None, failed_t: Thresholds) -> Verdict:
    states: list[State] = []
    faults: list[str] = []
    lines: list[str] = []
    perf = []
    active = 0
    for u in units:
        state, text = unit_state(u)
        states.append(state)
        lines.append(text)
        active += state is State.OK
        if state is not State.OK:
            faults.append(text)
    oks = []
    if units:
        perf.append(Figure("active_units", active, "", "", Thresholds(), 0, len(units)).perf)
        oks.append(", ".join(unit_state(u)[1] for u in units))
    if failed is not None:
        fig = Figure("failed_units", len(failed), f"{len(failed)} failed units", "", failed_t, 0)
        perf.append(fig.perf)
        states.append(fig.state)
        if fig.state is not State.OK:
            faults.append(
                f"{fig.problem_text()}: {', '.join(failed[:10])}" + (" ..." if len(failed) > 10 else "")
            )
        oks.append("no failed units" if not failed else f"{len(failed)} failed units")
        lines += [f"failed: {name}" for name in failed]
    text = ", ".join(faults) if faults else "; ".join(oks)
    return Verdict(worst(*states), text, tuple(perf), "\n".join(lines))


class SystemdUnitCheck:
    kind = "SYSTEMD"

    def __init__(
        self,
        name: str,
        units: tuple[str, ...],
        failed_units: bool,
        failed_t: Thresholds,
        *,
        systemctl: str = "systemctl",
        runtime_dir: str = RUNTIME_DIR,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.units = units
        self.failed_units = failed_units
        self.failed_t = failed_t
        self.systemctl = systemctl
        self.runtime_dir = runtime_dir
        self.clock: Clock = clock or SystemClock()

    async def run(self, timeout: float) -> CheckResult:
        started, t0 = self.clock.time(), self.clock.monotonic()
        try:
            async with asyncio.timeout(budget(timeout)):
                verdict = await self._check()
        except TimeoutError:
            verdict = _unknown(f"systemctl timed out after {budget(timeout):g}s")
        except Exception as exc:  # a check that cannot run is a result, never a crash
            verdict = _unknown(f"cannot query systemd: {exc}")
        return finish(self.name, self.kind, verdict, started, self.clock.monotonic() - t0)

    def _locate(self) -> tuple[str | None, str]:
        """(systemctl path, "") or (None, why not)."""
        if not os.path.isdir(self.runtime_dir):
            return None, f"systemd is not running on this host (no {self.runtime_dir})"
        exe = shutil.which(self.systemctl)
        return exe, "" if exe else f"{self.systemctl} not found"

    async def _check(self) -> Verdict:
        exe, why = await asyncio.to_thread(self._locate)
        if exe is None:
            return _unknown(why)
        units: list[UnitState] = []
        if self.units:
            props = "LoadState,ActiveState,SubState"
            out = await _systemctl(exe, "show", "-p", props, "--", *self.units)
            units = parse_show(out, self.units)
            if len(units) != len(self.units):
                return _unknown(f"systemctl show returned {len(units)} blocks for {len(self.units)} units")
        failed = None
        if self.failed_units:
            failed = parse_failed(
                await _systemctl(exe, "list-units", "--state=failed", "--plain", "--no-legend")
            )
        return evaluate_units(units, failed, self.failed_t)


class SystemctlError(Exception):
    pass


async def _systemctl(exe: str, *args: str) -> str:
    env = {
        "LC_ALL": "C",
        "SYSTEMD_COLORS": "0",
        "SYSTEMD_PAGER": "",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    proc = await asyncio.create_subprocess_exec(
        exe,
        "--no-pager",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        # Bounded reads: systemctl output is small, but nothing we read is unbounded.
        out, err = await asyncio.gather(proc.stdout.read(MAX_OUTPUT), proc.stderr.read(64 * 1024))
        await proc.wait()
    finally:
        if proc.returncode is None:  # timed out or cancelled: do not leave it behind
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        detail = err.decode(errors="replace").strip().splitlines()
        raise SystemctlError(
            f"systemctl {args[0]} exited {proc.returncode}: {detail[-1] if detail else 'no output'}"
        )
    return out.decode(errors="replace")


def _unknown(text: str) -> Verdict:
    return Verdict(State.UNKNOWN, text, reason=text)


@register("systemd_unit")
def build_systemd_unit(name: str, params: Mapping[str, Any], ctx: BuildContext) -> SystemdUnitCheck:
    p = Params(params)
    units = p.text_list("unit")
    failed_units = p.flag("failed_units", False)
    failed_t = p.thresholds("warning", "critical", crit_default="0")
    if not units and not failed_units:
        raise p.error("unit", "give a unit (or a list of units), or set failed_units: true")
    for u in units:
        if u.startswith("-"):
            raise p.error("unit", f"not a unit name: {u!r}")
    p.done()
    return SystemdUnitCheck(name, units, failed_units, failed_t)
