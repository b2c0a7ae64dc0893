"""Every documented combination of exit status and output, read by watchd as Nagios Core 4 reads it.

Each row is a real tiny plugin. `nagios` is what Nagios 4.4 itself made of that plugin (state, plugin_output,
long_plugin_output, performance_data in its status.dat): `test_rows_are_what_nagios4_says` runs Debian's
nagios4 over the same plugins and checks the table against it wherever Nagios 4 is installed and we are root.
`test_watchd_reads_each_row` runs each plugin through watchd: the state is always Nagios', the text is
Nagios' too except where docs/configuration.md says watchd differs on purpose (it keeps the plugin's own
summary and puts the verdict in `reason`; it does not turn `;` into `:`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from watchd.core.model import State
from watchd.sources.plugin import BASE_ENV, PluginSource

NAGIOS = "/usr/sbin/nagios4"
MISSING = "/nonexistent/watchd-test/check_missing"
NOEXEC = "noexec"  # written without the execute bit
TIMEOUT_S = 1  # Nagios' service_check_timeout is whole seconds
ENOENT = os.strerror(2)


@dataclass(frozen=True)
class Row:
    name: str
    body: str  # the plugin's /bin/sh script (or MISSING / NOEXEC)
    state: State  # what Nagios 4 gives it, and so what watchd must give it
    nagios: tuple[str, str, str]  # Nagios 4's plugin_output, long_plugin_output, performance_data
    summary: str  # watchd's summary, long output and perfdata labels
    long_output: str = ""
    perf: tuple[str, ...] = ()
    reason: str | None = None  # a fragment of watchd's reason; None: no reason at all


def sh(script: str) -> str:
    return "#!/bin/sh\n" + script + "\n"


OOB = "Return code of {code} for service '{name}' on host 'h' was out of bounds"
ROWS = [
    Row("exit-0", sh("echo 'OUT | t=1s'; exit 0"), State.OK, ("OUT", "", "t=1s"), "OUT", perf=("t",)),
    Row("exit-1", sh("echo 'OUT | t=1s'; exit 1"), State.WARNING, ("OUT", "", "t=1s"), "OUT", perf=("t",)),
    Row("exit-2", sh("echo 'OUT | t=1s'; exit 2"), State.CRITICAL, ("OUT", "", "t=1s"), "OUT", perf=("t",)),
    Row("exit-3", sh("echo 'OUT | t=1s'; exit 3"), State.UNKNOWN, ("OUT", "", "t=1s"), "OUT", perf=("t",)),
    Row(
        "exit-4",
        sh("echo 'OUT | t=1s'; echo long; exit 4"),
        State.CRITICAL,
        (f"({OOB.format(code=4, name='exit-4')})", "long", "t=1s"),
        "OUT",
        "long",
        ("t",),
        "return code of 4 is out of bounds",
    ),
    Row(
        "exit-126",
        sh("echo 'OUT | t=1s'; exit 126"),
        State.CRITICAL,
        ("(Return code of 126 is out of bounds. Check if plugin is executable)", "", ""),
        "OUT",
        perf=("t",),
        reason="return code of 126 is out of bounds - plugin may not be executable",
    ),
    Row(
        "exit-127",
        sh("echo 'OUT | t=1s'; exit 127"),
        State.CRITICAL,
        ("(Return code of 127 is out of bounds. Check if plugin exists)", "", ""),
        "OUT",
        perf=("t",),
        reason="return code of 127 is out of bounds - plugin may be missing",
    ),
    Row(
        "exit-255",
        sh("echo 'OUT | t=1s'; exit 255"),
        State.CRITICAL,
        (f"({OOB.format(code=255, name='exit-255')})", "", "t=1s"),
        "OUT",
        perf=("t",),
        reason="return code of 255 is out of bounds",
    ),
    Row(
        "exit-minus-1",  # a C or Python plugin's exit(-1) is 255 (a shell refuses `exit -1`)
        sh("exec python3 -c \"print('OUT'); raise SystemExit(-1)\""),
        State.CRITICAL,
        (f"({OOB.format(code=255, name='exit-minus-1')})", "", ""),
        "OUT",
        reason="return code of 255 is out of bounds",
    ),
    Row(
        "sigkill",
        sh("echo 'OUT | t=1s'; kill -KILL $$"),
        State.UNKNOWN,
        ("OUT", "", "t=1s"),
        "OUT",
        perf=("t",),
        reason="plugin killed by signal 9 (SIGKILL)",
    ),
    Row(
        "sigsegv",
        sh("echo 'OUT | t=1s'; kill -SEGV $$"),
        State.UNKNOWN,
        ("OUT", "", "t=1s"),
        "OUT",
        perf=("t",),
        reason="plugin killed by signal 11 (SIGSEGV)",
    ),
    Row(
        "sigterm",
        sh("echo 'OUT'; kill -TERM $$"),
        State.UNKNOWN,
        ("OUT", "", ""),
        "OUT",
        reason="plugin killed by signal 15 (SIGTERM)",
    ),
    Row(
        "sigabrt-silent",
        sh("kill -ABRT $$"),
        State.UNKNOWN,
        ("(No output on stdout) stderr:", "", ""),
        "(plugin killed by signal 6 (SIGABRT))",
        reason="plugin killed by signal 6 (SIGABRT)",
    ),
    Row(
        "timeout",
        sh("echo 'still working'; exec sleep 30"),
        State.CRITICAL,  # service_check_timeout_state=c, Nagios' default as watchd's timeout_state
        ("(Service check timed out after 1.00 seconds)", "", ""),
        "(Service check timed out after 1 seconds) still working",
        reason="plugin timed out after 1s",
    ),
    Row(
        "empty-exit-0",
        sh("exit 0"),
        State.OK,
        ("(No output on stdout) stderr:", "", ""),
        "(No output returned from plugin)",
    ),
    Row(
        "empty-exit-2",
        sh("exit 2"),
        State.CRITICAL,
        ("(No output on stdout) stderr:", "", ""),
        "(No output returned from plugin)",
    ),
    Row(
        "blank-lines",
        sh("echo; echo '   '; exit 0"),
        State.OK,
        ("(No output returned from plugin)", "", ""),
        "(No output returned from plugin)",
    ),
    Row(
        "stderr-only",
        sh("echo 'disk error | x=1' >&2; exit 2"),
        State.CRITICAL,
        ("(No output on stdout) stderr: disk error", "", "x=1"),
        "disk error",
        perf=("x",),
        reason="no output on stdout, using stderr",
    ),
    Row(
        "stderr-only-multiline",
        sh("printf 'e1\\ne2\\n' >&2; exit 1"),
        State.WARNING,
        ("(No output on stdout) stderr: e1", "e2", ""),
        "e1",
        "e2",
        reason="no output on stdout, using stderr",
    ),
    Row(
        "stdout-wins-over-stderr",
        sh("echo OUT; echo ERR >&2; exit 0"),
        State.OK,
        ("OUT", "", ""),
        "OUT",
    ),
    Row(
        "long-output-with-perfdata-later",
        sh(
            "printf 'DISK OK - free | root=10GB;;;0;20\\n/ 50%% used\\n/boot 10%% used | boot=1GB\\n"
            "home=5GB\\nvar=2GB\\n'"
        ),
        State.OK,
        ("DISK OK - free", "/ 50% used\n/boot 10% used", "root=10GB;;;0;20  boot=1GB home=5GB var=2GB"),
        "DISK OK - free",
        "/ 50% used\n/boot 10% used",
        ("root", "boot", "home", "var"),
    ),
    Row(
        "perfdata-only-after-long-output",
        sh("printf 'OK summary\\nlong1\\nlong2 | a=1\\nb=2\\n'"),
        State.OK,
        ("OK summary", "long1\nlong2", "a=1 b=2"),
        "OK summary",
        "long1\nlong2",
        ("a", "b"),
    ),
    Row(
        "pipe-in-long-output-text",  # Nagios: text after a long line's '|' is perfdata, '=' or not
        sh("printf 'OK\\nsome | text\\nmore\\n'"),
        State.OK,
        ("OK", "some", "text more"),
        "OK",
        "some",
        reason="2 malformed perfdata item(s) skipped: 'text', 'more'",
    ),
    Row(
        "empty-summary-then-long-output",
        sh("printf '\\nsecond line\\n'; exit 1"),
        State.WARNING,
        ("(No output returned from plugin)", "second line", ""),
        "(No output returned from plugin)",
        "second line",
    ),
    Row(
        "pipe-first",
        sh("echo '| a=1'"),
        State.OK,
        ("", "", "a=1"),
        "(No output returned from plugin)",
        perf=("a",),
    ),
    Row("empty-perfdata", sh("echo 'OK |'"), State.OK, ("OK", "", ""), "OK"),
    Row(
        "second-pipe-on-first-line",
        sh("echo 'OK a | b=1 | c=2'"),
        State.OK,
        ("OK a", "", "b=1 | c=2"),
        "OK a",
        perf=("b", "c"),
        reason="1 malformed perfdata item(s) skipped: '|'",
    ),
    Row(
        "semicolons-in-summary",  # Nagios writes ';' as ':' (its status file format); watchd keeps it
        sh("echo 'OK; semi;colon | a=1;2;3'"),
        State.OK,
        ("OK: semi:colon", "", "a=1;2;3"),
        "OK; semi;colon",
        perf=("a",),
    ),
    Row(
        "crlf",
        sh("printf 'OK crlf | a=1\\r\\nlong\\r\\n'"),
        State.OK,
        ("OK crlf", "long", "a=1"),
        "OK crlf",
        "long",
        ("a",),
    ),
    Row(
        "padding",
        sh("echo '   padded summary    |   a=1   '"),
        State.OK,
        ("padded summary", "", "a=1"),
        "padded summary",
        perf=("a",),
    ),
    Row(
        "missing-plugin",
        MISSING,
        State.CRITICAL,
        (f"(No output on stdout) stderr: execvp({MISSING}, ...) failed. errno is 2: {ENOENT}", "", ""),
        f"(plugin not found: {MISSING})",
        reason="plugin not found; as exit code 127",
    ),
    Row(
        "not-executable",
        NOEXEC,
        State.CRITICAL,
        (f"({OOB.format(code=13, name='not-executable')})", "", ""),  # the worker exits with errno EACCES
        "(plugin not executable: {path})",
        reason="plugin not executable; as exit code 126",
    ),
]


def _plugin_path(row: Row, directory: Path) -> str:
    if row.body == MISSING:
        return MISSING
    path = directory / row.name
    if row.body == NOEXEC:
        path.write_text(sh("echo hi"))
        path.chmod(0o644)
    else:
        path.write_text(row.body)
        path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
async def test_watchd_reads_each_row(row: Row, tmp_path: Path) -> None:
    """A real plugin's exit status and output give Nagios 4's state, and watchd's documented text."""
    path = _plugin_path(row, tmp_path)
    timeout = TIMEOUT_S if row.name == "timeout" else 10
    result = await PluginSource(row.name, (path,), dict(BASE_ENV), kill_grace=0.2).run(timeout)
    assert result.state is row.state
    assert result.summary == row.summary.format(path=path)
    assert result.long_output == row.long_output
    assert tuple(p.label for p in result.perfdata) == row.perf
    if row.reason is None:
        assert result.reason is None
    else:
        assert row.reason in (result.reason or "")


# -- the same rows under Nagios 4 itself ----------------------------------------------------------------


def _nagios_unavailable() -> str | None:
    if not os.path.exists(NAGIOS):
        return f"{NAGIOS} is not installed (Debian package nagios4-core)"
    if os.geteuid() != 0:
        return "Nagios 4 drops privileges to its user: run as root"
    try:
        pwd.getpwnam("nagios")
    except KeyError:
        return "no 'nagios' user (installed with nagios4-core)"
    return None


def _write_nagios_config(directory: Path) -> Path:
    settings = {
        "log_file": directory / "nagios.log", "cfg_file": directory / "objects.cfg",
        "status_file": directory / "status.dat", "status_update_interval": 1, "nagios_user": "nagios",
        "nagios_group": "nagios", "check_external_commands": 0, "lock_file": directory / "nagios.pid",
        "temp_file": directory / "nagios.tmp", "temp_path": directory,
        "check_result_path": directory / "spool",
        "use_syslog": 0, "interval_length": 1, "enable_notifications": 0, "process_performance_data": 0,
        "retain_state_information": 0, "execute_host_checks": 0, "enable_flap_detection": 0,
        "check_for_updates": 0, "max_service_check_spread": 1, "service_inter_check_delay_method": "n",
        "check_result_reaper_frequency": 1, "service_check_timeout": TIMEOUT_S,
        "service_check_timeout_state": "c",
    }  # fmt: skip
    cfg = directory / "nagios.cfg"
    cfg.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    days = "".join(f" {d} 00:00-24:00\n" for d in ("sunday", "monday", "tuesday", "wednesday", "thursday",
                                                     "friday", "saturday"))  # fmt: skip
    objects = [
        f"define timeperiod {{\n timeperiod_name 24x7\n alias 24x7\n{days}}}",
        "define command {\n command_name none\n command_line /bin/true\n}",
        "define contact {\n contact_name nobody\n host_notifications_enabled 0\n"
        " service_notifications_enabled 0\n host_notification_period 24x7\n"
        " service_notification_period 24x7\n"
        " host_notification_options n\n service_notification_options n\n host_notification_commands none\n"
        " service_notification_commands none\n}",
        "define host {\n host_name h\n address 127.0.0.1\n check_command none\n max_check_attempts 1\n"
        " check_period 24x7\n active_checks_enabled 0\n contacts nobody\n notification_period 24x7\n}",
    ]  # fmt: skip
    plugins = directory / "plugins"
    plugins.mkdir()
    for row in ROWS:
        path = _plugin_path(row, plugins)
        objects.append(f"define command {{\n command_name c_{row.name}\n command_line {path}\n}}")
        objects.append(
            f"define service {{\n host_name h\n service_description {row.name}\n check_command c_{row.name}\n"
            " check_interval 3600\n retry_interval 3600\n max_check_attempts 1\n check_period 24x7\n"
            " contacts nobody\n notification_period 24x7\n notifications_enabled 0\n}"
        )
    (directory / "objects.cfg").write_text("\n".join(objects) + "\n")
    (directory / "spool").mkdir()
    user = pwd.getpwnam("nagios")
    for root, dirs, files in os.walk(directory):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.chown(name, user.pw_uid, user.pw_gid)
    return cfg


def _unescape(text: str) -> str:
    """status.dat writes a newline in long output as `\\n` and a backslash as `\\\\`."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "n\\":
            out.append("\n" if text[i + 1] == "n" else "\\")
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _services(status: Path) -> Iterator[dict[str, str]]:
    current: dict[str, str] | None = None
    try:
        lines = status.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return
    for line in lines:
        line = line.strip()
        if line == "servicestatus {":
            current = {}
        elif line == "}" and current is not None:
            yield current
            current = None
        elif current is not None and "=" in line:
            key, value = line.split("=", 1)
            current[key] = value


@pytest.fixture(scope="module")
def nagios4() -> dict[str, dict[str, str]]:
    """Nagios 4 run once over every row's plugin: service name -> its servicestatus block."""
    why = _nagios_unavailable()
    if why is not None:
        pytest.skip(why)
    directory = Path(tempfile.mkdtemp(prefix="watchd-nagios-compat-"))
    try:
        directory.chmod(0o755)
        cfg = _write_nagios_config(directory)
        proc = subprocess.Popen([NAGIOS, str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                seen = {s["service_description"]: s for s in _services(directory / "status.dat")}
                if len(seen) == len(ROWS) and all(s.get("last_check", "0") != "0" for s in seen.values()):
                    return seen
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (directory / "nagios.log").read_text(errors="replace")[-2000:]
                    raise AssertionError(f"Nagios 4 did not check every row (exit {proc.poll()}):\n{log}")
                time.sleep(0.1)  # polling Nagios' status file; each pass re-reads the condition
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_rows_are_what_nagios4_says(row: Row, nagios4: dict[str, dict[str, str]]) -> None:
    """Debian's Nagios 4 gives each row's plugin the row's state, output, long output and perfdata."""
    got = nagios4[row.name]
    assert State(int(got["current_state"])) is row.state
    output, long_output, perfdata = row.nagios
    if row.name == "timeout":  # Nagios prints the measured run time: 1.00, 1.01 ... seconds
        assert got["plugin_output"].startswith("(Service check timed out after 1.0")
    else:
        assert got["plugin_output"] == output
    assert _unescape(got["long_plugin_output"]) == long_output
    assert got["performance_data"] == perfdata
