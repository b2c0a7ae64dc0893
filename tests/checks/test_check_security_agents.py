"""check_security_agents: ClamAV database age, agent processes, rkhunter scan log."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from checkhelpers import RunCheck, age

from watchd.core.model import State
from watchd.plugin.lib.agents import Process, count_running, read_cvd

DAY = 86400
HOUR = 3600


def cvd(path: Path, days_old: float, version: int, mtime_days: float = 0) -> Path:
    """A ClamAV database whose header says it was built `days_old` ago (its mtime can differ)."""
    built = time.time() - days_old * DAY
    header = f"ClamAV-VDB:14 Mar 2024 08:28 -0400:{version}:2054536:90:0123abcd:dsigdsig:builder:{built:.0f}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header.encode().ljust(512) + b"\x1f\x8b rest of the archive")
    age(path, mtime_days * DAY)
    return path


@pytest.mark.parametrize(
    ("days", "state"),
    [(0.5, State.OK), (4, State.WARNING), (8, State.CRITICAL)],
    ids=["fresh", "older than -w 3 days", "older than -c 7 days"],
)
def test_clamav_age_from_header(tmp_path: Path, run_check: RunCheck, days: float, state: State) -> None:
    """The newest database's header build time decides, not the files' mtimes (all fresh here)."""
    db = tmp_path / "clamav"
    cvd(db / "main.cvd", 60, 62)
    cvd(db / "daily.cld", days, 27213)
    cvd(db / "bytecode.cvd", 30, 335)
    run = run_check("check_security_agents", "--clamav-db", db)
    assert run.state is state
    assert days * DAY - 5 < run.value("clamav_age") < days * DAY + 60
    assert (run.perf["clamav_age"].warn, run.perf["clamav_age"].crit) == ("259200", "604800")
    assert "clamav: daily.cld version 27213" in run.long_output


def test_clamav_without_header_uses_mtime(tmp_path: Path, run_check: RunCheck) -> None:
    """A file without a parsable header falls back to its mtime."""
    db = tmp_path / "clamav"
    db.mkdir()
    (db / "daily.cvd").write_bytes(b"garbage")
    age(db / "daily.cvd", 5 * DAY)
    run = run_check("check_security_agents", "--clamav-db", db)
    assert run.state is State.WARNING
    assert "no header, mtime used" in run.long_output


def test_clamav_missing_db_is_critical(tmp_path: Path, run_check: RunCheck) -> None:
    """No database at all means no protection: CRITICAL."""
    run = run_check("check_security_agents", "--clamav-db", tmp_path)
    assert run.state is State.CRITICAL
    assert "no ClamAV database" in run.summary


def test_read_cvd_prefers_header(tmp_path: Path) -> None:
    """read_cvd counts header fields from the end: the date contains a colon."""
    db = read_cvd(cvd(tmp_path / "daily.cvd", 2, 27000, mtime_days=40))
    assert db.version == 27000
    assert 2 * DAY - 5 < time.time() - db.built < 2 * DAY + 60


def fake_proc(root: Path, pid: int, comm: str, argv: list[str], state: str = "S") -> None:
    d = root / str(pid)
    d.mkdir(parents=True)
    (d / "comm").write_text(comm + "\n")
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (d / "stat").write_text(f"{pid} ({comm}) {state} 1 {pid} {pid} 0 -1 4194560 0 0\n")


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    root = tmp_path / "proc"
    fake_proc(root, 101, "clamd", ["/usr/sbin/clamd", "--foreground=true"])
    fake_proc(root, 102, "ossec-syscheckd", ["/var/ossec/bin/ossec-syscheckd"])
    fake_proc(root, 103, "freshclam", ["/usr/bin/freshclam", "-d"], state="Z")
    fake_proc(root, 104, "wazuh-modulesd", ["/var/ossec/bin/wazuh-modulesd-with-long-name"])
    fake_proc(root, 105, "perl", ["/usr/bin/perl", "/usr/bin/rkhunter"])
    (root / "net").mkdir()  # non-pid entries are skipped
    return root


def test_processes_from_fake_proc(proc: Path, run_check: RunCheck) -> None:
    """Running agents are counted; a zombie does not count as running."""
    run = run_check(
        "check_security_agents", "--proc-root", proc, "--process", "clamd", "--process", "ossec-syscheckd"
    )
    assert run.state is State.OK
    assert run.summary == "SECURITY_AGENTS OK - clamd, ossec-syscheckd running"
    assert run.value("proc_clamd") == 1
    run = run_check(
        "check_security_agents", "--proc-root", proc, "--process", "clamd", "--process", "freshclam"
    )
    assert run.state is State.CRITICAL
    assert run.summary == "SECURITY_AGENTS CRITICAL - not running: freshclam"
    assert run.value("proc_freshclam") == 0


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("clamd", 1),
        ("wazuh-modulesd-with-long-name", 1),
        ("wazuh-modulesd-other", 0),
        ("perl", 1),
        ("rkhunter", 0),
        ("freshclam", 0),
    ],
    ids=["comm", "argv0 beyond 15 chars", "truncated comm alone", "interpreter", "script name", "zombie"],
)
def test_count_running(name: str, count: int) -> None:
    """Names match comm (kernel-truncated to 15 chars) or argv[0]'s basename."""
    processes = [
        Process(1, "clamd", "/usr/sbin/clamd", False),
        Process(2, "wazuh-modulesd", "/var/ossec/bin/wazuh-modulesd-with-long-name", False),
        Process(3, "perl", "/usr/bin/perl", False),
        Process(4, "freshclam", "/usr/bin/freshclam", True),
    ]
    assert count_running(processes, name) == count


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real process named wd-test-agent: a copy of sleep, so comm is its file name."""
    exe = tmp_path / "wd-test-agent"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", exe)
    proc = subprocess.Popen([str(exe), "60"])
    yield proc
    proc.kill()
    proc.wait()


def test_real_process(agent: subprocess.Popen[bytes], run_check: RunCheck) -> None:
    """A process the test starts is found in the real /proc, and is missing once it is gone."""
    assert run_check("check_security_agents", "--process", "wd-test-agent").state is State.OK
    agent.kill()
    agent.wait()
    run = run_check("check_security_agents", "--process", "wd-test-agent")
    assert run.state is State.CRITICAL


RKHUNTER_LOG = """\
[03:10:01] Running Rootkit Hunter version 1.4.6 on web1
[03:10:01]
[03:10:01] Info: Start date is Sun 10 Mar 2024 03:10:01 CET
[03:10:02] Info: Detected operating system is 'Linux'
[03:11:40] Warning: The file properties have changed:
[03:11:40]          File: /usr/bin/curl
[03:11:52] Warning: Hidden directory found: /etc/.java
[03:12:33] Info: End date is Sun 10 Mar 2024 03:12:33 CET
"""


@pytest.mark.parametrize(
    ("hours", "args", "state"),
    [
        (5, [], State.OK),
        (30, [], State.WARNING),
        (50, [], State.CRITICAL),
        (50, ["--scan-critical", "72"], State.WARNING),
    ],
    ids=["recent", "older than 26 h", "older than 48 h", "custom critical"],
)
def test_rkhunter_scan_age(
    tmp_path: Path, run_check: RunCheck, hours: float, args: list[str], state: State
) -> None:
    """The log's mtime is the last scan; its warnings are counted and listed, not alerted on."""
    log = tmp_path / "rkhunter.log"
    log.write_text(RKHUNTER_LOG)
    age(log, hours * HOUR)
    run = run_check("check_security_agents", "--rkhunter-log", log, *args)
    assert run.state is state
    assert "2 warnings" in run.summary
    assert run.value("rkhunter_warnings") == 2
    assert hours * HOUR - 5 < run.value("rkhunter_age") < hours * HOUR + 60
    assert run.long_output.splitlines() == [
        "rkhunter: The file properties have changed:",
        "rkhunter: Hidden directory found: /etc/.java",
    ]


def test_rkhunter_unfinished_scan(tmp_path: Path, run_check: RunCheck) -> None:
    """A log without its End date line is a scan that died or still runs: WARNING."""
    log = tmp_path / "rkhunter.log"
    log.write_text(RKHUNTER_LOG.rsplit("[03:12:33]", 1)[0])
    run = run_check("check_security_agents", "--rkhunter-log", log)
    assert run.state is State.WARNING
    assert "scan did not finish" in run.summary


def test_rkhunter_missing_log(tmp_path: Path, run_check: RunCheck) -> None:
    """No log means rkhunter never ran: CRITICAL."""
    run = run_check("check_security_agents", "--rkhunter-log", tmp_path / "none.log")
    assert run.state is State.CRITICAL


def test_combined_worst_state(tmp_path: Path, proc: Path, run_check: RunCheck) -> None:
    """Several parts at once: the worst state wins and every part is in the summary."""
    db = tmp_path / "clamav"
    cvd(db / "daily.cvd", 4, 1)
    run = run_check("check_security_agents", "--clamav-db", db, "--proc-root", proc, "--process", "clamd")
    assert run.state is State.WARNING
    assert run.summary.startswith("SECURITY_AGENTS WARNING - ClamAV signatures 4.0 d old; clamd running")


def test_no_option_is_usage(run_check: RunCheck) -> None:
    """None of --clamav-db, --process, --rkhunter-log: exit 3 with the usage."""
    run = run_check("check_security_agents")
    assert run.state is State.UNKNOWN
    assert "usage: check_security_agents" in run.stdout
    assert run_check("check_security_agents", "--help").state is State.OK
