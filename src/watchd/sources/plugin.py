"""The Nagios plugin source: run an argv, interpret exit status and output as Nagios Core 4 does."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from watchd.core.model import CheckResult, State
from watchd.nagios.output import NO_OUTPUT, decode, parse_output, verdict_for_exit
from watchd.sources.process import PLUGIN_ITSELF, ProcessOutcome, run_process, spawn_error_code

# Plugins get a minimal, explicit environment, not the daemon's.
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def resolve_executable(name: str, search_dirs: Sequence[str]) -> str:
    """An absolute path for argv[0]: as given if it has a '/', else the first match in search_dirs,
    then PATH. Returns the name unchanged if nothing matches (the run then reports it missing)."""
    if "/" in name:
        return os.path.abspath(name)
    for d in search_dirs:
        candidate = os.path.join(d, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which(name, path=BASE_ENV["PATH"]) or name


@dataclass(frozen=True, slots=True)
class PluginSource:
    check: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=lambda: dict(BASE_ENV))
    output_limit: int = 65536
    timeout_state: State = State.CRITICAL
    kill_grace: float = 2.0

    async def run(self, timeout: float) -> CheckResult:
        started_at = time.time()
        outcome = await run_process(self.argv, self.env, timeout, self.output_limit, self.kill_grace)
        return interpret(self.check, outcome, timeout, self.timeout_state, started_at, self.output_limit)


def interpret(
    check: str,
    outcome: ProcessOutcome,
    timeout: float,
    timeout_state: State,
    started_at: float,
    output_limit: int,
) -> CheckResult:
    """Pure: a process outcome -> CheckResult, with a reason whenever the state is not the plugin's own."""
    if outcome.spawn_error is not None:
        exc = outcome.spawn_error
        code = spawn_error_code(exc)
        verdict = verdict_for_exit(code, None)
        what = "not found" if code == 127 else "not executable"
        reason = f"cannot execute {exc.filename or '?'}: {exc.strerror} (plugin {what}; as exit code {code})"
        return CheckResult(
            check,
            verdict.state,
            f"(plugin {what}: {exc.filename})",
            reason=reason,
            duration_s=outcome.duration_s,
            started_at=started_at,
        )

    text = decode(outcome.stdout)
    reasons: list[str] = []
    if not text.strip() and outcome.stderr.strip():
        # Nagios 4 falls back to stderr when stdout is empty; say so.
        text = decode(outcome.stderr)
        reasons.append("no output on stdout, using stderr")
    parsed = parse_output(text)

    if outcome.timed_out:
        state = timeout_state
        reasons.insert(0, f"plugin timed out after {timeout:g}s; {_timeout_kills(outcome)}")
        summary = f"(Service check timed out after {timeout:g} seconds)"
        if parsed.summary != NO_OUTPUT:
            summary += f" {parsed.summary}"
    else:
        verdict = verdict_for_exit(outcome.exit_code, outcome.signal)
        state = verdict.state
        if verdict.reason:
            reasons.insert(0, verdict.reason)
        summary = parsed.summary
        if verdict.reason and summary == NO_OUTPUT:
            summary = f"({verdict.reason})"
    if outcome.stdout_dropped:
        reasons.append(f"output truncated at {output_limit} bytes ({outcome.stdout_dropped} bytes dropped)")
    if outcome.leftovers_killed:
        reasons.append(_leftover_kills(outcome))
    if parsed.perfdata_reason:
        reasons.append(parsed.perfdata_reason)
    return CheckResult(
        check=check,
        state=state,
        summary=summary,
        long_output=parsed.long_output,
        perfdata=parsed.perfdata,
        exit_code=outcome.exit_code,
        signal=outcome.signal,
        duration_s=outcome.duration_s,
        reason="; ".join(reasons) or None,
        started_at=started_at,
        perfdata_errors=parsed.perfdata_errors,
    )


def _names(items: Sequence[str], limit: int = 5) -> str:
    more = f", and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _processes(n: int) -> str:
    return f"{n} process" if n == 1 else f"{n} processes"


def _timeout_kills(outcome: ProcessOutcome) -> str:
    """What the timeout killed, and what it could not: only what did happen."""
    refused = bool(outcome.not_killed) and outcome.not_killed[0].startswith(PLUGIN_ITSELF)
    parts = [] if refused else ["killed it"]
    if outcome.killed:
        started = f"{_processes(len(outcome.killed))} it started ({_names(outcome.killed)})"
        parts = [f"killed {started}" if refused else f"killed it and {started}"]
    if outcome.not_killed:
        parts.append(f"could not kill {_names(outcome.not_killed)}")
    return "; ".join(parts)


def _leftover_kills(outcome: ProcessOutcome) -> str:
    n = len(outcome.killed) + len(outcome.not_killed)
    if n == 0:
        return (
            "plugin's output stayed open after it exited, held by no process watchd could find;"
            " stopped reading"
        )
    text = f"plugin left {_processes(n)} running after it exited"
    if outcome.killed:
        text += f" ({_names(outcome.killed)}); killed"
    if outcome.not_killed:
        text += f"; could not kill {_names(outcome.not_killed)}"
    return text
