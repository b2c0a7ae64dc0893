"""check_log_pattern: new matching lines across runs, rotation, truncation, freshness."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from checkhelpers import Run, RunCheck, age

from watchd.core.model import State
from watchd.plugin.lib.logscan import Position, default_state_file, make_matcher, scan

PATTERN = "Out of memory|segfault"


class Log:
    """A log file plus the plugin invocation with a fixed state file."""

    def __init__(self, tmp_path: Path, run_check: RunCheck) -> None:
        self.path = tmp_path / "kern.log"
        self.state = tmp_path / "state" / "kern.json"
        self._run = run_check
        self.path.write_text("boot\nsegfault before we started watching\n")

    def append(self, text: str, path: Path | None = None) -> None:
        with (path or self.path).open("a") as fh:
            fh.write(text)

    def check(self, *args: str) -> Run:
        return self._run(
            "check_log_pattern", "--log", self.path, "-p", PATTERN, "--state-file", self.state, *args
        )


@pytest.fixture
def log(tmp_path: Path, run_check: RunCheck) -> Log:
    return Log(tmp_path, run_check)


def test_first_run_starts_at_end_then_counts_new_matches(log: Log) -> None:
    """Old lines are not reported; lines appended afterwards are, once."""
    first = log.check()
    assert first.state is State.OK
    assert "first run" in first.summary
    assert first.value("matches") == 0
    log.append("kernel: Out of memory: Killed process 42\nnormal line\napp[7]: segfault at 0\n")
    second = log.check()
    assert second.state is State.WARNING
    assert second.value("matches") == 2
    assert second.long_output.splitlines() == [
        "match: kernel: Out of memory: Killed process 42",
        "match: app[7]: segfault at 0",
    ]
    assert second.value("bytes") == len(
        "kernel: Out of memory: Killed process 42\nnormal line\napp[7]: segfault at 0\n"
    )
    third = log.check()
    assert third.state is State.OK
    assert third.value("matches") == 0


def test_from_start(log: Log) -> None:
    """--from-start reads what was there before the first run."""
    run = log.check("--from-start")
    assert run.value("matches") == 1
    assert "segfault before we started watching" in run.long_output


def test_incomplete_line_waits_for_its_end(log: Log) -> None:
    """A line still being written is not split: it is matched whole on the run that sees its newline."""
    log.check()
    log.append("app: seg")
    assert log.check().value("matches") == 0
    log.append("fault at 0\n")
    run = log.check()
    assert run.value("matches") == 1
    assert "match: app: segfault at 0" in run.long_output


def test_rotation_reads_rest_of_old_file(log: Log) -> None:
    """logrotate (create): the rest of LOG.1 from the old offset, then the new LOG from 0."""
    log.check()
    log.append("segfault one\n")
    os.rename(log.path, str(log.path) + ".1")
    log.append("segfault two, written to the old file after the rename\n", Path(str(log.path) + ".1"))
    log.path.write_text("segfault three, in the new file\nquiet\n")
    run = log.check()
    assert run.value("matches") == 3
    assert [line.removeprefix("match: ") for line in run.long_output.splitlines()[:3]] == [
        "segfault one",
        "segfault two, written to the old file after the rename",
        "segfault three, in the new file",
    ]
    assert f"rotated: read {log.path}.1 from byte" in run.long_output
    assert log.check().value("matches") == 0


def test_rotation_with_dateext(log: Log) -> None:
    """A rotated file named LOG-YYYYMMDD is found by its inode."""
    log.check()
    log.append("segfault one\n")
    os.rename(log.path, str(log.path) + "-20240301")
    log.path.write_text("")
    run = log.check()
    assert run.value("matches") == 1
    assert "-20240301 from byte" in run.long_output


def test_copytruncate(log: Log) -> None:
    """copytruncate: same inode, smaller file: finish the copy LOG.1, then read LOG from 0."""
    log.check()
    log.append("segfault before copy\n")
    shutil.copyfile(log.path, str(log.path) + ".1")
    with log.path.open("w") as fh:
        fh.write("segfault after truncation\n")
    run = log.check()
    assert run.value("matches") == 2
    assert "match: segfault before copy" in run.long_output
    assert "match: segfault after truncation" in run.long_output


def test_rotated_file_gone(log: Log) -> None:
    """Rotated and already compressed: the new file is read and the possible gap is said."""
    log.check()
    log.append("segfault lost\n")
    os.rename(log.path, str(log.path) + ".1.gz")
    log.path.write_text("segfault new\n")
    run = log.check()
    assert run.value("matches") == 1
    assert "old file was not found" in run.long_output


def test_thresholds_exclude_and_case(log: Log) -> None:
    """-c on the count; --exclude drops lines; -i ignores case."""
    log.check()
    log.append("SEGFAULT loud\nsegfault in test-harness (expected)\nsegfault real\n")
    run = log.check("-i", "--exclude", "test-harness", "-c", "1")
    assert run.state is State.CRITICAL
    assert run.value("matches") == 2
    assert run.perf["matches"].crit == "1"


def test_long_output_is_bounded(log: Log) -> None:
    """Only --max-lines matching lines are shown; the rest are counted."""
    log.check()
    log.append("".join(f"segfault {i}\n" for i in range(30)))
    run = log.check("--max-lines", "3")
    assert run.value("matches") == 30
    assert run.long_output.splitlines() == [
        "match: segfault 0",
        "match: segfault 1",
        "match: segfault 2",
        "... and 27 more matching lines",
    ]


def test_read_limit_skips_the_start_of_a_flood(log: Log) -> None:
    """More than --max-bytes appended: the oldest part is skipped, with a note."""
    log.check()
    log.append("segfault early\n" + "x" * 5000 + "\n" + "segfault late\n")
    run = log.check("--max-bytes", "1K")
    assert run.value("matches") == 1
    assert "match: segfault late" in run.long_output
    assert "(read limit)" in run.long_output


def test_freshness(log: Log, run_check: RunCheck) -> None:
    """--age-warning/--age-critical are minutes since the log was written; without -p only freshness."""
    age(log.path, 90 * 60)
    run = run_check("check_log_pattern", "--log", log.path, "--age-warning", "30", "--age-critical", "60")
    assert run.state is State.CRITICAL
    assert "last written 90 min ago" in run.summary
    assert (run.perf["age"].warn, run.perf["age"].crit) == ("1800", "3600")
    assert "matches" not in run.perf
    fresh = run_check("check_log_pattern", "--log", log.path, "--age-warning", "120")
    assert fresh.state is State.OK


def test_default_state_file_under_state_directory(tmp_path: Path, log: Log, run_check: RunCheck) -> None:
    """Under systemd ($STATE_DIRECTORY) the offset is kept there; it records inode and offset."""
    env = {"STATE_DIRECTORY": str(tmp_path / "statedir")}
    run_check("check_log_pattern", "--log", log.path, "-p", PATTERN, env=env)
    files = list((tmp_path / "statedir" / "check_log_pattern").glob("kern.log-*.json"))
    assert len(files) == 1
    data = json.loads(files[0].read_text())
    assert data["inode"] == log.path.stat().st_ino
    assert data["offset"] == log.path.stat().st_size
    assert files[0] == default_state_file(str(log.path), f"{PATTERN}\0\0False", env)


def test_missing_log_is_unknown(tmp_path: Path, run_check: RunCheck) -> None:
    """A log that does not exist cannot be checked: UNKNOWN."""
    run = run_check("check_log_pattern", "--log", tmp_path / "nope.log", "-p", "x")
    assert run.state is State.UNKNOWN
    assert "not found" in run.summary


@pytest.mark.parametrize(
    "args",
    [
        ["--log", "/x"],
        ["--log", "/x", "-p", "("],
        ["-p", "x"],
        ["--log", "/x", "-p", "x", "--max-lines", "many"],
    ],
    ids=["neither pattern nor age", "invalid regex", "no log", "bad number"],
)
def test_bad_arguments(run_check: RunCheck, args: list[str]) -> None:
    """Bad arguments exit 3 with the usage."""
    run = run_check("check_log_pattern", *args)
    assert run.state is State.UNKNOWN
    assert "usage: check_log_pattern" in run.stdout


def test_scan_unit_same_file_and_shrink(tmp_path: Path) -> None:
    """scan(): a file shorter than the saved offset with no copy beside it is read from 0, with a note."""
    path = tmp_path / "a.log"
    path.write_text("segfault\n")
    st = path.stat()
    result = scan(str(path), Position(st.st_dev, st.st_ino, 1000), make_matcher("segfault"))
    assert result.rotated
    assert result.matches == 1
    assert result.position == Position(st.st_dev, st.st_ino, st.st_size)
    assert any("not found" in note for note in result.notes)
