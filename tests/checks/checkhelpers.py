"""Helpers for the bundled plugins' tests: run one as a subprocess, parse its output, age files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchd.core.model import PerfDatum, State
from watchd.plugin import parse_output

CHECKS = Path(__file__).resolve().parents[2] / "checks"


@dataclass(frozen=True)
class Run:
    """A plugin run: exit state, raw stdout and the output parsed the way watchd parses it."""

    state: State
    stdout: str
    stderr: str
    summary: str
    long_output: str
    perf: dict[str, PerfDatum]

    def value(self, label: str) -> float:
        v = self.perf[label].value
        assert v is not None
        return v


RunCheck = Callable[..., Run]


def run_plugin(
    name: str,
    *args: str | os.PathLike[str],
    env: dict[str, str] | None = None,
    python_flags: tuple[str, ...] = (),
) -> Run:
    proc = subprocess.run(
        [sys.executable, *python_flags, str(CHECKS / name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert proc.returncode in (0, 1, 2, 3), proc.stderr
    parsed = parse_output(proc.stdout)
    return Run(
        State(proc.returncode),
        proc.stdout,
        proc.stderr,
        parsed.summary,
        parsed.long_output,
        {p.label: p for p in parsed.perfdata},
    )


def age(path: Path, seconds: float) -> None:
    """Make `path` look `seconds` old (mtime and atime), instead of sleeping."""
    t = time.time() - seconds
    os.utime(path, (t, t))
