"""Running real plugins: exit codes, signals, timeouts with stubborn grandchildren, floods, garbage."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from watchd.core.model import State
from watchd.sources.plugin import BASE_ENV, PluginSource

PLUGINS = "/usr/lib/nagios/plugins"


async def run(argv: list[str], timeout: float = 10.0, **kw) -> object:
    return await PluginSource("t", tuple(argv), dict(BASE_ENV), **kw).run(timeout)


def alive_with_marker(marker: str) -> list[int]:
    """PIDs of live (non-zombie) processes whose command line contains marker."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            pids.append(int(entry))
    return pids


@pytest.mark.parametrize(
    ("code", "state", "reason"),
    [
        (0, State.OK, None),
        (1, State.WARNING, None),
        (2, State.CRITICAL, None),
        (3, State.UNKNOWN, None),
        (4, State.CRITICAL, "return code of 4 is out of bounds"),
        (126, State.CRITICAL, "may not be executable"),
        (127, State.CRITICAL, "may be missing"),
        (255, State.CRITICAL, "return code of 255 is out of bounds"),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else None,
)
async def test_exit_codes(script, code: int, state: State, reason: str | None) -> None:
    """A real process's exit code maps to the Nagios state, with a reason when out of bounds."""
    path = script("p", f"#!/bin/sh\necho 'SOME OUTPUT | t=1s'\nexit {code}\n")
    result = await run([path])
    assert result.state is state
    assert result.exit_code == code
    assert result.summary == "SOME OUTPUT"
    assert [p.label for p in result.perfdata] == ["t"]
    if reason:
        assert reason in result.reason
    else:
        assert result.reason is None


async def test_real_monitoring_plugin() -> None:
    """check_load from monitoring-plugins parses into state and perfdata with thresholds."""
    result = await run([f"{PLUGINS}/check_load", "-w", "999,999,999", "-c", "1000,1000,1000"])
    assert result.state is State.OK
    assert result.summary.startswith("LOAD OK")
    labels = {p.label: p for p in result.perfdata}
    assert set(labels) == {"load1", "load5", "load15"}
    assert labels["load1"].warn == "999.000"
    assert abs(labels["load1"].value - os.getloadavg()[0]) < 1.0


async def test_killed_by_signal(script) -> None:
    """Death by a signal is UNKNOWN (Nagios 4's worker reports return code 3) and names the signal."""
    path = script("p", "#!/bin/sh\necho partial\nkill -SEGV $$\n")
    result = await run([path])
    assert result.state is State.UNKNOWN
    assert result.signal == 11
    assert result.exit_code is None
    assert "SIGSEGV" in result.reason


async def test_missing_executable(tmp_path: Path) -> None:
    """A missing plugin is CRITICAL 'plugin may be missing' (Nagios' 127), not an exception."""
    result = await run([str(tmp_path / "nope")])
    assert result.state is State.CRITICAL
    assert "not found" in result.summary
    assert "exit code 127" in result.reason


async def test_not_executable(tmp_path: Path) -> None:
    """A file without the execute bit is reported as not executable (Nagios' 126)."""
    path = tmp_path / "plain"
    path.write_text("#!/bin/sh\necho hi\n")
    result = await run([str(path)])
    assert result.state is State.CRITICAL
    assert "exit code 126" in result.reason


async def test_timeout_kills_whole_process_group(script) -> None:
    """A hanging plugin whose grandchild ignores SIGTERM: timeout state, and nothing left behind."""
    marker = f"watchd-test-{os.getpid()}-{time.monotonic_ns()}"
    path = script(
        "hang",
        "#!/bin/sh\n"
        f"sh -c 'trap \"\" TERM; sleep 300; :' {marker}-grandchild &\n"
        "trap '' TERM\n"
        "echo still working\n"
        "sleep 301; :\n",
    )
    started = time.monotonic()
    result = await PluginSource("t", (path, marker), dict(BASE_ENV), kill_grace=0.3).run(0.5)
    elapsed = time.monotonic() - started
    assert result.state is State.CRITICAL
    assert "timed out after 0.5s" in result.reason
    assert result.summary.startswith("(Service check timed out after 0.5 seconds)")
    assert elapsed < 5
    assert alive_with_marker(marker) == []


async def test_timeout_state_is_configurable(script) -> None:
    """timeout_state UNKNOWN is honoured (Nagios' service_check_timeout_state)."""
    path = script("slow", "#!/bin/sh\nexec sleep 30\n")
    source = PluginSource("t", (path,), dict(BASE_ENV), timeout_state=State.UNKNOWN, kill_grace=0.2)
    result = await source.run(0.2)
    assert result.state is State.UNKNOWN


async def test_output_flood_is_capped(script) -> None:
    """10 MB of output is read to the end (the plugin is not blocked) but only the cap is kept."""
    body = "#!/bin/sh\necho 'FLOOD OK | a=1'\nhead -c 10000000 /dev/zero | tr '\\0' x\nexit 0\n"
    path = script("flood", body)
    result = await run([path], output_limit=65536)
    assert result.state is State.OK
    assert result.exit_code == 0
    assert result.summary == "FLOOD OK"
    assert "truncated at 65536 bytes" in result.reason
    assert "9934" in result.reason  # the dropped byte count: 10,000,015 - 65,536
    assert len(result.long_output) <= 65536


async def test_binary_output_does_not_crash(script, tmp_path: Path) -> None:
    """Random bytes, NULs and invalid UTF-8 decode leniently into a result."""
    blob = tmp_path / "blob"
    blob.write_bytes(bytes(range(256)) * 40)
    path = script("bin", f"#!/bin/sh\ncat {blob}\nexit 1\n")
    result = await run([path])
    assert result.state is State.WARNING
    assert "\x00" not in result.summary + result.long_output
    json.dumps(result.to_dict())  # serialisable for the API and the store


async def test_stderr_used_when_stdout_empty(script) -> None:
    """Nagios 4 falls back to stderr when a plugin writes nothing on stdout; the reason says so."""
    path = script("err", "#!/bin/sh\necho 'disk error on sda' >&2\nexit 2\n")
    result = await run([path])
    assert result.summary == "disk error on sda"
    assert "using stderr" in result.reason


async def test_empty_output(script) -> None:
    """No output at all still gives an explicit summary."""
    result = await run([script("quiet", "#!/bin/sh\nexit 0\n")])
    assert result.summary == "(No output returned from plugin)"


async def test_leftover_child_holding_output_is_killed(script) -> None:
    """A plugin that exits but leaves a child holding stdout finishes promptly; the child is killed."""
    marker = f"watchd-left-{os.getpid()}-{time.monotonic_ns()}"
    path = script("leave", f"#!/bin/sh\nsh -c 'sleep 300; :' {marker} &\necho 'OK - done'\nexit 0\n")
    started = time.monotonic()
    result = await run([path], timeout=30)
    assert time.monotonic() - started < 5
    assert result.state is State.OK
    assert result.summary == "OK - done"
    # The child sh may not have started its sleep yet when the plugin exits (a loaded machine).
    killed = r"left (2 processes|1 process) running after it exited \(\d+ sh(, \d+ sleep)?\); killed$"
    assert re.search(killed, result.reason)
    assert alive_with_marker(marker) == []


async def test_no_shell_and_minimal_environment(script) -> None:
    """Arguments reach the plugin literally (no shell), with only the explicit environment."""
    path = script("args", '#!/bin/sh\nprintf "%s," "$@"; echo; env | sort | tr "\\n" " "\n')
    os.environ["WATCHD_LEAK_TEST"] = "secret"
    try:
        result = await run([path, "a b", "$(touch /tmp/pwned)", ";", "*"])
    finally:
        del os.environ["WATCHD_LEAK_TEST"]
    assert result.summary == "a b,$(touch /tmp/pwned),;,*,"
    assert "WATCHD_LEAK_TEST" not in result.long_output
    assert "PATH=" in result.long_output


async def test_child_signal_dispositions_are_default(script) -> None:
    """The plugin does not inherit Python's ignored SIGPIPE, nor a blocked signal mask."""
    path = script("sig", "#!/bin/sh\ngrep -E '^Sig(Ign|Blk)' /proc/self/status | tr '\\n' ' '\n")
    result = await run([path])
    fields = dict(re.findall(r"(Sig\w+):\s*([0-9a-f]+)", result.summary))
    assert int(fields["SigBlk"], 16) == 0
    assert int(fields["SigIgn"], 16) & (1 << (13 - 1)) == 0  # SIGPIPE is 13


def test_cli_check_json(watchd_cmd: list[str]) -> None:
    """`watchd check --json` prints one JSON object of the documented shape and exits with the state."""
    proc = subprocess.run(
        [*watchd_cmd, "check", "--json", "--", "check_dummy", "1", "half broken"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert set(data) == {
        "state",
        "exit_code",
        "signal",
        "summary",
        "long_output",
        "perfdata",
        "duration_s",
        "reason",
    }
    assert data["state"] == "WARNING"
    assert data["summary"] == "WARNING: half broken"
    assert data["exit_code"] == 1


def test_cli_check_perfdata_and_timeout(watchd_cmd: list[str], script) -> None:
    """--timeout applies; perfdata items carry every documented field."""
    path = script("p", "#!/bin/sh\necho \"OK | 'a b'=1.5ms;1;2;0;10\"\n")
    proc = subprocess.run(
        [*watchd_cmd, "check", "--json", "--", path], capture_output=True, text=True, timeout=30
    )
    assert json.loads(proc.stdout)["perfdata"] == [
        {"label": "a b", "value": 1.5, "uom": "ms", "warn": "1", "crit": "2", "min": 0.0, "max": 10.0}
    ]
    slow = script("slow", "#!/bin/sh\nsleep 20\n")
    proc = subprocess.run(
        [*watchd_cmd, "check", "--json", "--timeout", "0.3", "--", slow],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "timed out" in json.loads(proc.stdout)["reason"]
