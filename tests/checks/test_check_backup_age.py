"""check_backup_age: newest backup file's age and size, run as a real subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest
from checkhelpers import RunCheck, age

from watchd.core.model import State

HOUR = 3600


def dump(directory: Path, name: str, size: int, hours_old: float) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(b"x" * size)
    age(path, hours_old * HOUR)
    return path


@pytest.mark.parametrize(
    ("hours_old", "state"),
    [(2, State.OK), (30, State.WARNING), (50, State.CRITICAL)],
    ids=["fresh", "older than -w 26", "older than -c 48"],
)
def test_age_thresholds_in_hours(tmp_path: Path, run_check: RunCheck, hours_old: float, state: State) -> None:
    """-w/-c are hours; the state follows the newest file's age against the default 26/48."""
    dump(tmp_path, "db.sql.gz", 2048, hours_old)
    run = run_check("check_backup_age", "--glob", tmp_path / "*.sql.gz")
    assert run.state is state
    assert run.summary.startswith(f"BACKUP_AGE {state.name} - newest {tmp_path}/db.sql.gz")
    assert hours_old * HOUR - 5 < run.value("age") < hours_old * HOUR + 60
    assert run.perf["age"].uom == "s"
    assert (run.perf["age"].warn, run.perf["age"].crit) == ("93600", "172800")  # thresholds in seconds
    assert run.value("size") == 2048
    assert run.value("count") == 1


def test_newest_file_decides(tmp_path: Path, run_check: RunCheck) -> None:
    """Among several matches the newest one is judged: a fresh small dump below --min-size is CRITICAL."""
    dump(tmp_path, "mon.sql.gz", 5 * 1024 * 1024, 50)
    dump(tmp_path, "tue.sql.gz", 10, 1)
    dump(tmp_path, "notes.txt", 10, 0)  # does not match the glob
    run = run_check("check_backup_age", "--glob", tmp_path / "*.sql.gz", "--min-size", "1M")
    assert run.state is State.CRITICAL
    assert "tue.sql.gz" in run.summary
    assert "below minimum 1.0 MiB" in run.summary
    assert run.value("size") == 10
    assert run.value("count") == 2


def test_min_size_met(tmp_path: Path, run_check: RunCheck) -> None:
    """A fresh dump above --min-size is OK."""
    dump(tmp_path, "db.sql.gz", 2 * 1024 * 1024, 3)
    run = run_check("check_backup_age", "--glob", tmp_path / "*.gz", "--min-size", "1M", "-w", "4", "-c", "8")
    assert run.state is State.OK
    assert "2.0 MiB" in run.summary
    assert (run.perf["age"].warn, run.perf["age"].crit) == ("14400", "28800")


def test_no_match_is_critical(tmp_path: Path, run_check: RunCheck) -> None:
    """No backup at all is the worst case: CRITICAL, count 0."""
    run = run_check("check_backup_age", "--glob", tmp_path / "*.sql.gz")
    assert run.state is State.CRITICAL
    assert "no file matches" in run.summary
    assert run.value("count") == 0


def test_dir_finds_newest_in_tree(tmp_path: Path, run_check: RunCheck) -> None:
    """--dir walks subdirectories; --name filters by file name."""
    dump(tmp_path / "a", "old.tar", 100, 40)
    dump(tmp_path / "b" / "c", "new.tar", 200, 1)
    dump(tmp_path / "b", "newest.log", 300, 0)
    run = run_check("check_backup_age", "--dir", tmp_path, "--name", "*.tar")
    assert run.state is State.OK
    assert f"{tmp_path}/b/c/new.tar" in run.summary
    assert run.value("count") == 2
    run_all = run_check("check_backup_age", "--dir", tmp_path)
    assert "newest.log" in run_all.summary
    assert run_all.value("count") == 3


def test_dir_missing_is_critical(tmp_path: Path, run_check: RunCheck) -> None:
    """A backup directory that is gone (unmounted disk) is CRITICAL."""
    run = run_check("check_backup_age", "--dir", tmp_path / "nope")
    assert run.state is State.CRITICAL
    assert "does not exist" in run.summary


def test_future_mtime_counts_as_fresh(tmp_path: Path, run_check: RunCheck) -> None:
    """Clock skew must not turn into a negative age that a range like 26 would alert on."""
    dump(tmp_path, "db.gz", 10, -2)
    run = run_check("check_backup_age", "--glob", tmp_path / "db.gz")
    assert run.state is State.OK
    assert run.value("age") == 0
    assert "in the future" in run.long_output


def test_marker_file_via_glob_without_wildcard(tmp_path: Path, run_check: RunCheck) -> None:
    """A literal path works as a glob: the RPO marker-file use."""
    dump(tmp_path, "last-success", 0, 27)
    run = run_check("check_backup_age", "--glob", tmp_path / "last-success")
    assert run.state is State.WARNING
    assert run.value("size") == 0


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--glob", "x", "--dir", "y"],
        ["--glob", "x", "-w", "10:5"],
        ["--glob", "x", "--min-size", "lots"],
        ["--dir", "/tmp", "--bogus"],
        ["--glob", "x", "--name", "*.gz"],
    ],
    ids=["no source", "glob and dir", "inverted range", "bad size", "unknown option", "name without dir"],
)
def test_bad_arguments_are_unknown_with_usage(run_check: RunCheck, args: list[str]) -> None:
    """Bad arguments exit 3 with the reason and the usage on stdout, as Nagios plugins do."""
    run = run_check("check_backup_age", *args)
    assert run.state is State.UNKNOWN
    assert run.stdout.startswith("BACKUP_AGE UNKNOWN - ")
    assert "usage: check_backup_age" in run.stdout
    assert run.stderr == ""


def test_help(run_check: RunCheck) -> None:
    """--help exits 0 with the usage and the examples."""
    run = run_check("check_backup_age", "--help")
    assert run.state is State.OK
    assert run.stdout.startswith("usage: check_backup_age")
    assert "--min-size" in run.stdout
    assert "examples:" in run.stdout


def test_runs_from_checkout_without_installed_watchd(tmp_path: Path, run_check: RunCheck) -> None:
    """With site-packages off (python -S) watchd is not importable; the ../src fallback is used."""
    dump(tmp_path, "db.gz", 10, 1)
    run = run_check("check_backup_age", "--glob", tmp_path / "db.gz", python_flags=("-S",))
    assert run.state is State.OK, run.stdout + run.stderr
