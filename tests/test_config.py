"""Config loading: typed values, documented defaults, and errors that name file, line, key path."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from watchd import config
from watchd.config import ConfigError
from watchd.core.model import State

REPO = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config.load(str(path))
    return [str(p) for p in info.value.problems]


def test_shipped_default_config_is_valid() -> None:
    """config/watchd.yaml (with conf.d/managed-host.yaml) loads and its plugins resolve to real
    executables, from monitoring-plugins and from checks/."""
    cfg = config.load(str(REPO / "config" / "watchd.yaml"))
    assert {"load", "disk_root", "procs_total", "users", "swap", "cpu", "reboot_required"} <= set(cfg.checks)
    assert "backup_mysql" in cfg.checks  # from conf.d
    for check in cfg.checks.values():
        if check.type == "plugin":
            assert Path(check.command[0]).is_file(), check.command[0]


def test_defaults_and_overrides(tmp_path: Path) -> None:
    """Unset keys take the documented defaults; durations accept units; macros are substituted."""
    path = write(
        tmp_path / "watchd.yaml",
        """
host: web01
data_dir: state
macros: {WARN: "5,4,3"}
defaults: {retry_interval: 10s}
checks:
  a: {command: [check_load, -w, $WARN$, -c, "10,8,6", -H, $HOSTNAME$, --name, $SERVICEDESC$, --cost, $$5]}
  b:
    command: [/bin/true]
    interval: 2m
    max_attempts: 1
    timeout: 1.5
    timeout_state: unknown
""",
    )
    cfg = config.load(str(path))
    a, b = cfg.checks["a"], cfg.checks["b"]
    assert (a.interval, a.retry_interval, a.max_attempts, a.timeout) == (60.0, 10.0, 3, 60.0)
    assert a.timeout_state is State.CRITICAL
    assert a.command[1:] == ("-w", "5,4,3", "-c", "10,8,6", "-H", "web01", "--name", "a", "--cost", "$5")
    assert a.command[0].endswith("/check_load")
    assert (b.interval, b.max_attempts, b.timeout, b.timeout_state) == (120.0, 1, 1.5, State.UNKNOWN)
    assert cfg.data_dir == str(tmp_path / "state")
    assert cfg.scheduler.max_concurrent == 32


def test_every_error_is_reported_with_file_line_and_path(tmp_path: Path) -> None:
    """One load reports all problems, each with its file, line and dotted key path."""
    main = write(
        tmp_path / "watchd.yaml",
        """checks:
  ok: {command: [/bin/true]}
  bad:
    command: [check_dummy, "0", $NOPE$]
    interval: -3
    retries: 2
  typo:
    type: nosuch
scheduler:
  max_concurrent: zero
colour: blue
""",
    )
    write(tmp_path / "conf.d" / "extra.yaml", "checks:\n  ok: {command: [/bin/false]}\n")
    found = problems(main)
    m = str(main)
    assert f"{m}:5: checks.bad.interval: must be positive, not -3" in found
    assert any(p.startswith(f"{m}:4: checks.bad.command: unknown macro $NOPE$") for p in found)
    assert f"{m}:6: checks.bad.retries: unknown key" in found
    assert any(p.startswith(f"{m}:8: checks.typo.type: unknown check type 'nosuch'") for p in found)
    assert f"{m}:10: scheduler.max_concurrent: expected a positive integer, not 'zero'" in found
    assert f"{m}:11: colour: unknown key" in found
    assert f"{tmp_path}/conf.d/extra.yaml:2: checks.ok: already defined in {m}" in found
    assert len(found) == 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("checks: [1, 2]\n", "checks: must be a mapping, not a list"),
        (
            "checks:\n  a: {command: [/bin/true], tags: {x: 1}}\n",
            "checks.a.tags: expected a list of strings, not a mapping",
        ),
        ("checks:\n  a: {command: [/bin/true]\n", "invalid YAML"),
        ("checks:\n  a: {}\n  a: {}\n", "duplicate key 'a'"),
        ("checks:\n  a: {command: []}\n", "checks.a.command: is empty"),
        ("checks:\n  a: {interval: 5}\n", "checks.a.command: is required"),
        ('checks:\n  a: {command: "x \'unclosed"}\n', "checks.a.command: must be an argv list, not a string"),
        ("checks:\n  'bad name!': {command: [/bin/true]}\n", "check names use"),
        ("checks:\n  a: {command: [/bin/true], flap_low: 50, flap_high: 10}\n", "must not exceed flap_high"),
        ("checks:\n  a: {command: [/bin/true], interval: soon}\n", "expected a duration"),
        ("log: {level: loud}\n", "log.level: expected one of debug, info, warning, error"),
        ("timezone: Mars/Base\n", "timezone: unknown time zone 'Mars/Base'"),
    ],
    ids=[
        "not-mapping",
        "wrong-container",
        "yaml-syntax",
        "duplicate-key",
        "empty-command",
        "missing-command",
        "string-command",
        "check-name",
        "flap-order",
        "duration",
        "log-level",
        "timezone",
    ],
)
def test_single_errors(tmp_path: Path, text: str, expected: str) -> None:
    """Each kind of mistake gets a message that says what is wrong."""
    found = problems(write(tmp_path / "watchd.yaml", text))
    assert any(expected in p for p in found), found


def test_conf_d_may_only_add_checks(tmp_path: Path) -> None:
    """conf.d files add checks and macros; other top-level keys there are errors."""
    main = write(tmp_path / "watchd.yaml", "checks:\n  a: {command: [/bin/true]}\n")
    write(tmp_path / "conf.d" / "10-more.yaml", "checks:\n  b: {command: [/bin/true]}\n")
    assert set(config.load(str(main)).checks) == {"a", "b"}
    write(tmp_path / "conf.d" / "20-bad.yaml", "host: other\n")
    assert any("conf.d files may only contain" in p for p in problems(main))


def test_binary_garbage_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    """A config file (or a conf.d file) that is not UTF-8 text is reported, not a traceback."""
    main = tmp_path / "watchd.yaml"
    main.write_bytes(b"\xff\xfe\x00garbage: [")
    assert problems(main) == [f"{main}: <top>: not UTF-8 text (byte 0: b'\\xff')"]
    main.write_text("checks: {}\n")
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "x.yaml").write_bytes(b"checks:\n  a: {command: [\xc3\x28]}\n")
    assert any("conf.d/x.yaml: <top>: not UTF-8 text" in p for p in problems(main))


def test_missing_file(tmp_path: Path) -> None:
    """A missing config file is one clear problem."""
    assert problems(tmp_path / "nope.yaml") == [f"{tmp_path}/nope.yaml: <top>: file not found"]


def test_cli_validate(tmp_path: Path, watchd_cmd: list[str]) -> None:
    """`watchd validate` exits 1 listing errors, 0 with a one-line summary."""
    bad = write(tmp_path / "bad" / "watchd.yaml", "checks:\n  a: {command: [/bin/true], interval: 0}\n")
    proc = subprocess.run([*watchd_cmd, "validate", "--config", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert f"{bad}:2: checks.a.interval: must be positive, not 0" in proc.stdout
    good = write(tmp_path / "good" / "watchd.yaml", "checks:\n  a: {command: [/bin/true]}\n")
    proc = subprocess.run([*watchd_cmd, "validate", "--config", str(good)], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.startswith("OK: 1 checks in 1 file(s)")


def test_display_zone_reaches_every_rendering(tmp_path: Path) -> None:
    """The top-level `timezone` is the API's (SLA months, status page) and every contact's default."""
    path = write(
        tmp_path / "watchd.yaml",
        "timezone: America/New_York\ncontacts:\n  ops: {email: [ops@example.com]}\n"
        "  tokyo: {email: [t@example.com], timezone: Asia/Tokyo}\n",
    )
    cfg = config.load(str(path))
    assert (cfg.timezone, cfg.api.timezone) == ("America/New_York", "America/New_York")
    assert cfg.contacts["ops"].timezone == "America/New_York"
    assert cfg.contacts["tokyo"].timezone == "Asia/Tokyo"


def test_display_zone_defaults_to_the_hosts(tmp_path: Path) -> None:
    """Without `timezone`, the host's zone (as host_timezone() reads it) is used everywhere."""
    cfg = config.load(str(write(tmp_path / "watchd.yaml", "contacts:\n  ops: {email: [o@example.com]}\n")))
    assert cfg.timezone == config.host_timezone()
    assert (cfg.api.timezone, cfg.contacts["ops"].timezone) == (cfg.timezone, cfg.timezone)


@pytest.mark.parametrize(
    ("link", "timezone_file", "expected"),
    [
        pytest.param("/usr/share/zoneinfo/Europe/Berlin", None, "Europe/Berlin", id="localtime-link"),
        pytest.param("/usr/share/zoneinfo/posix/Asia/Tokyo", None, "Asia/Tokyo", id="posix-link"),
        pytest.param(None, "America/New_York\n", "America/New_York", id="debian-timezone-file"),
        pytest.param("/usr/share/zoneinfo/Etc/UTC", "Europe/Berlin\n", "Etc/UTC", id="link-wins"),
        pytest.param(None, "Mars/Base\n", "UTC", id="unknown-name"),
        pytest.param(None, None, "UTC", id="nothing"),
    ],
)
def test_host_timezone(tmp_path: Path, link: str | None, timezone_file: str | None, expected: str) -> None:
    """The host's zone comes from the /etc/localtime link, else /etc/timezone, else UTC."""
    localtime, tzfile = tmp_path / "localtime", tmp_path / "timezone"
    if link is not None:
        localtime.symlink_to(link)
    if timezone_file is not None:
        tzfile.write_text(timezone_file)
    assert config.host_timezone(str(localtime), str(tzfile)) == expected


@pytest.mark.parametrize(
    ("text", "last_line"),
    [
        pytest.param("checks:\n  a: {command: [/bin/true], interval: 0}\n", "1 error(s) in ", id="errors"),
        pytest.param("checks:\n  a: {command: [/bin/true]}\n", "OK: 1 checks in 1 file(s)", id="ok"),
    ],
)
def test_cli_validate_on_a_terminal(tmp_path: Path, watchd_cmd: list[str], text: str, last_line: str) -> None:
    """On a terminal (stdout and stderr one pty) the summary is the last line and ends the output with
    a newline, so the shell prompt starts on a line of its own."""
    import os
    import pty

    cfg = write(tmp_path / "watchd.yaml", text)
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [*watchd_cmd, "validate", "--config", str(cfg)], stdout=secondary, stderr=secondary, stdin=secondary
    )
    os.close(secondary)
    out = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(primary)
    proc.wait(timeout=30)
    screen = out.decode()
    assert screen.endswith("\r\n"), repr(screen)
    assert screen.rstrip("\r\n").splitlines()[-1].startswith(last_line), repr(screen)
