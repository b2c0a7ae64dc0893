"""check_reboot_required: the flag file, its package list and age, and the kernel comparison."""

from __future__ import annotations

from pathlib import Path

import pytest
from checkhelpers import RunCheck, age

from watchd.core.model import State

DAY = 86400


def make_root(tmp_path: Path, days: float | None, pkgs: str = "", running: str | None = None) -> Path:
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    if days is not None:
        flag = root / "run/reboot-required"
        flag.write_text("*** System restart required ***\n")
        age(flag, days * DAY)
        if pkgs:
            (root / "run/reboot-required.pkgs").write_text(pkgs)
    if running is not None:
        (root / "proc/sys/kernel").mkdir(parents=True)
        (root / "proc/sys/kernel/osrelease").write_text(running + "\n")
        (root / "boot").mkdir()
    return root


def test_no_flag_is_ok(tmp_path: Path, run_check: RunCheck) -> None:
    """No flag file: OK, reboot_required=0."""
    run = run_check("check_reboot_required", "--root", make_root(tmp_path, None))
    assert run.state is State.OK
    assert run.summary == "REBOOT OK - no reboot required"
    assert run.value("reboot_required") == 0


def test_flag_is_warning_with_packages(tmp_path: Path, run_check: RunCheck) -> None:
    """A flag is WARNING by default; .pkgs entries are listed once each, in order."""
    root = make_root(tmp_path, 3, "libc6\nlinux-image-6.1.0-21-amd64\nlibc6\n\n")
    run = run_check("check_reboot_required", "--root", root)
    assert run.state is State.WARNING
    assert run.summary == "REBOOT WARNING - reboot required for 3.0 d: libc6, linux-image-6.1.0-21-amd64"
    assert run.long_output == "package: libc6\npackage: linux-image-6.1.0-21-amd64"
    assert run.value("packages") == 2
    assert 3 * DAY - 5 < run.value("age") < 3 * DAY + 60


@pytest.mark.parametrize(
    ("days", "args", "state"),
    [
        (3, ["-c", "7"], State.WARNING),
        (8, ["-c", "7"], State.CRITICAL),
        (0.5, ["-w", "1"], State.OK),
        (2, ["-w", "1"], State.WARNING),
        (0.01, ["-c", "0"], State.CRITICAL),
    ],
    ids=["younger than -c", "older than -c", "within -w tolerance", "past -w", "-c 0 is at once"],
)
def test_age_thresholds_in_days(
    tmp_path: Path, run_check: RunCheck, days: float, args: list[str], state: State
) -> None:
    """-w/-c are ranges on the days since the flag appeared."""
    run = run_check("check_reboot_required", "--root", make_root(tmp_path, days), *args)
    assert run.state is state
    assert "reboot required for" in run.summary


def test_perfdata_thresholds_in_seconds(tmp_path: Path, run_check: RunCheck) -> None:
    """The age perfdata is in seconds, so are its thresholds."""
    run = run_check("check_reboot_required", "--root", make_root(tmp_path, 1), "-w", "2", "-c", "7")
    assert (run.perf["age"].warn, run.perf["age"].crit) == ("172800", "604800")


def test_newer_kernel(tmp_path: Path, run_check: RunCheck) -> None:
    """--kernel: a newer /boot/vmlinuz than the running kernel (Debian version order) needs a reboot."""
    root = make_root(tmp_path, None, running="6.1.0-9-amd64")
    for release, days in (("6.1.0-9-amd64", 30), ("6.1.0-21-amd64", 2), ("6.1.0-10-amd64", 10)):
        image = root / "boot" / f"vmlinuz-{release}"
        image.write_bytes(b"")
        age(image, days * DAY)
    run = run_check("check_reboot_required", "--root", root, "--kernel")
    assert run.state is State.WARNING
    assert run.summary.endswith("kernel 6.1.0-21-amd64")
    assert 2 * DAY - 5 < run.value("age") < 2 * DAY + 60
    assert "running 6.1.0-9-amd64, newest installed 6.1.0-21-amd64" in run.long_output
    # Without --kernel the same host looks fine: the comparison is opt-in.
    assert run_check("check_reboot_required", "--root", root).state is State.OK


def test_running_newest_kernel(tmp_path: Path, run_check: RunCheck) -> None:
    """Running the newest installed kernel is OK."""
    root = make_root(tmp_path, None, running="6.1.0-21-amd64")
    for release in ("6.1.0-9-amd64", "6.1.0-21-amd64"):
        (root / "boot" / f"vmlinuz-{release}").write_bytes(b"")
    run = run_check("check_reboot_required", "--root", root, "--kernel")
    assert run.state is State.OK


def test_bad_arguments(run_check: RunCheck) -> None:
    """An invalid range exits 3 with the usage."""
    run = run_check("check_reboot_required", "-c", "soon")
    assert run.state is State.UNKNOWN
    assert "usage: check_reboot_required" in run.stdout
