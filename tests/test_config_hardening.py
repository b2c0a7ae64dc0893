"""Hostile config values (issue 12): each is a FILE:LINE: key.path: problem, never a traceback or a reload
that dies in a background task."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from watchd import config
from watchd.config import ConfigError
from watchd.daemon import Daemon

GOOD = "data_dir: {data}\napi: {{enabled: false}}\nchecks:\n  ok: {{command: [/bin/true], interval: 1h}}\n"
# `warning: "-5"`: start 0 (implied) lies above end -5, as monitoring-plugins rejects it too.
TRUE = "    command: [/bin/true]"
NEGATIVE_RANGE = "checks:\n  cpu:\n    type: cpu\n    warning: \"-5\"\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config.load(str(path))
    return [str(p) for p in info.value.problems]


def test_validate_reports_a_negative_range_with_file_and_line(tmp_path: Path, watchd_cmd: list[str]) -> None:
    """`watchd validate` on `warning: "-5"` prints FILE:LINE: key.path: problem and exits 1, no traceback."""
    path = write(tmp_path / "watchd.yaml", f"data_dir: {tmp_path}/data\n{NEGATIVE_RANGE}")
    proc = subprocess.run(
        [*watchd_cmd, "validate", "--config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stdout.splitlines() == [
        f"{path}:5: checks.cpu.warning: invalid range '-5': start 0 lies above end -5"
    ]
    assert proc.returncode == 1


async def _wait(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_sighup_reload_of_a_negative_range_is_rejected(tmp_path: Path) -> None:
    """SIGHUP with `warning: "-5"` in the file logs "reload rejected" and keeps the old config; no task
    dies with an exception nobody retrieves."""
    path = write(tmp_path / "watchd.yaml", GOOD.format(data=tmp_path / "data"))
    daemon = Daemon(config.load(str(path)), str(path))
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    with capture_logs() as logs:
        events = lambda: [e["event"] for e in logs]  # noqa: E731
        runner = loop.create_task(daemon.run_until_signalled())
        try:
            await _wait(lambda: "watchd started" in events(), "start")
            write(path, f"data_dir: {tmp_path}/data\napi: {{enabled: false}}\n{NEGATIVE_RANGE}")
            os.kill(os.getpid(), signal.SIGHUP)
            await _wait(lambda: any(e.startswith("reload rejected") for e in events()), "reload rejected")
            await _wait(lambda: not daemon._background, "reload task to finish")
        finally:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(runner, 30)
    gc.collect()  # "Task exception was never retrieved" is reported when the task is collected
    rejected = next(e for e in logs if e["event"].startswith("reload rejected"))
    expected = "checks.cpu.warning: invalid range '-5': start 0 lies above end -5"
    assert any(expected in e for e in rejected["errors"])
    assert set(daemon.config.checks) == {"ok"}
    assert unhandled == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '    command: "check_dummy 0"',
            "checks.a.command: must be an argv list, not a string: write [check_dummy, '0']",
        ),
        (
            "    command: [/bin/true]\n    interval: 99999999999999999999999999999999999999",
            "checks.a.interval: must be at most 366 days, not a number of about 39 digits",
        ),
        (
            "    command: [/bin/true]\n    interval: " + "9" * 400,
            "checks.a.interval: must be at most 366 days, not a number of about 401 digits",
        ),
        ("    command: [/bin/true]\n    timeout: 99999999999999999999d", "must be at most 366 days"),
        ("    command: [/bin/true]\n    interval: .nan", "checks.a.interval: must be a finite number"),
        ("    command: [/bin/true]\n    interval: .inf", "checks.a.interval: must be a finite number"),
        ("    command: [/bin/true]\n    retry_interval: 1.0e+400", "must be a finite number"),
        ("    command: [/bin/true]\n    timeout: 367d",
         "checks.a.timeout: must be at most 366 days, not '367d'"),
        (f"{TRUE}\n    flap_low: {'9' * 400}", "checks.a.flap_low: expected a finite number"),
        (f"{TRUE}\n    interval: {'9' * 5000}", ":4: <top>: invalid YAML: integer too long"),
        ("    interval: 5m", ":3: checks.a.command: is required"),  # the line of the check
        (f"{TRUE}\n    description: 2026-02-30", ":4: <top>: invalid YAML: not a valid date: '2026-02-30'"),
    ],
    ids=[
        "string-command", "huge-int", "400-digit-int", "huge-days", "nan", "inf", "float-overflow", "367d",
        "int-overflowing-a-float", "int-beyond-4300-digits", "missing-key-line", "impossible-date",
    ],
)
def test_hostile_scalars_are_config_errors(tmp_path: Path, line: str, expected: str) -> None:
    """Each hostile value is one problem that names the file, the line and the key path."""
    path = write(tmp_path / "watchd.yaml", f"checks:\n  a:\n{line}\n")
    found = problems(path)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:"), found
    assert expected in found[0], found


def test_list_where_a_section_belongs_names_its_line(tmp_path: Path) -> None:
    """A list given for a section (a mapping) is reported at the line of its key (found by fuzzing)."""
    path = write(tmp_path / "watchd.yaml", "log: {level: info}\nincidents:\n  urgency_shift: [1]\n")
    assert problems(path) == [f"{path}:3: incidents.urgency_shift: must be a mapping, not a list"]


def test_string_command_points_at_its_line(tmp_path: Path) -> None:
    """The string-command error names the line of `command:` and suggests the list form."""
    text = "checks:\n  a:\n    interval: 5m\n    command: \"check_x -w '1 2'\"\n"
    path = write(tmp_path / "watchd.yaml", text)
    assert problems(path) == [
        f"{path}:4: checks.a.command: must be an argv list, not a string: write [check_x, -w, 1 2] "
        "(watchd never runs a shell)"
    ]


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "-inf", "1e400", "367d", "soon"])
def test_cli_check_rejects_a_bad_timeout(watchd_cmd: list[str], value: str) -> None:
    """`watchd check --timeout` takes a positive, finite duration; anything else is a usage error (exit 2)
    before any plugin runs."""
    proc = subprocess.run(
        [*watchd_cmd, "check", f"--timeout={value}", "--", "check_dummy", "0", "ran"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout
    assert "ran" not in proc.stdout
    assert "argument --timeout:" in proc.stderr
    assert "Traceback" not in proc.stderr
