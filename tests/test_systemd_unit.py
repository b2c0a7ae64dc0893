"""systemd/: the unit's hardening and validity, sysusers and tmpfiles, checked by systemd's own tools."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parent.parent / "systemd"
UNIT = SYSTEMD / "watchd.service"
EXEC = "/opt/watchd/venv/bin/watchd"
MAX_EXPOSURE = 2.0

analyze = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    analyze is None, reason="systemd-analyze not installed (apt-get install systemd)"
)
ENV = {**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": "", "LC_ALL": "C.UTF-8"}


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=60, check=False)


def directives() -> list[tuple[str, str]]:
    """(key, value) pairs of the [Service] section, repeated keys kept in order."""
    out: list[tuple[str, str]] = []
    section = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line
        elif section == "[Service]" and line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out.append((key, value))
    return out


@needs_analyze
def test_security_exposure_is_ok() -> None:
    """`systemd-analyze security --offline=yes` rates the unit at most 2.0 ("OK")."""
    assert analyze is not None
    result = run(analyze, "security", "--offline=yes", "--no-pager", str(UNIT))
    assert result.returncode == 0, result.stderr
    m = re.search(r"Overall exposure level for watchd\.service: (\d+(?:\.\d+)?) (\w+)", result.stdout)
    assert m, result.stdout[-2000:]
    assert float(m.group(1)) <= MAX_EXPOSURE, result.stdout
    assert m.group(2) in ("OK", "SAFE")
    # The same bound enforced by systemd itself (threshold is the exposure times ten).
    gated = run(analyze, "security", "--offline=yes", f"--threshold={int(MAX_EXPOSURE * 10)}", str(UNIT))
    assert gated.returncode == 0, gated.stdout[-2000:]


@needs_analyze
def test_verify_clean_with_existing_executable(tmp_path: Path) -> None:
    """`systemd-analyze verify` finds nothing wrong once ExecStart points at a file that exists."""
    assert analyze is not None
    exe = shutil.which("true") or "/bin/true"
    copy = tmp_path / "watchd.service"
    copy.write_text(UNIT.read_text().replace(EXEC, exe))
    result = run(analyze, "verify", "--man=no", str(copy))
    assert result.returncode == 0, result.stderr
    assert "watchd.service" not in result.stderr, result.stderr


@needs_analyze
def test_verify_only_complains_about_the_uninstalled_executable() -> None:
    """On the real unit the one complaint is that /opt/watchd/venv/bin/watchd is not installed here."""
    assert analyze is not None
    result = run(analyze, "verify", "--man=no", str(UNIT))
    complaints = [line for line in result.stderr.splitlines() if "watchd.service" in line]
    if Path(EXEC).exists():
        assert complaints == []
    else:
        assert complaints, "verify should notice the missing executable"
        assert all(EXEC in line for line in complaints), complaints


def test_required_service_settings() -> None:
    """What the daemon relies on: notify + watchdog, reload by SIGHUP, its own user and directories."""
    settings = dict(directives())
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "ExecStart": f"{EXEC} run --config /etc/watchd/watchd.yaml",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "WatchdogSec": "30",
        "Restart": "on-failure",
        "User": "watchd",
        "Group": "watchd",
        "StateDirectory": "watchd",
        "ConfigurationDirectory": "watchd",
        "RuntimeDirectory": "watchd",
        "CapabilityBoundingSet": "CAP_NET_RAW",
        "AmbientCapabilities": "CAP_NET_RAW",
        "ProtectProc": "default",  # plugins must see other users' processes
        "UMask": "0077",
    }
    assert {k: settings.get(k) for k in expected} == expected
    assert "IPAddressDeny" not in settings  # probes reach arbitrary hosts


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None, reason="systemd-sysusers not installed")
def test_sysusers_creates_the_user(tmp_path: Path) -> None:
    """systemd-sysusers (into a scratch root) creates watchd with its home in the state directory."""
    (tmp_path / "etc").mkdir()
    result = run("systemd-sysusers", f"--root={tmp_path}", str(SYSTEMD / "watchd.sysusers"))
    assert result.returncode == 0, result.stderr
    passwd = {
        line.split(":")[0]: line.split(":") for line in (tmp_path / "etc/passwd").read_text().splitlines()
    }
    assert passwd["watchd"][4] == "watchd monitoring daemon"
    assert passwd["watchd"][5] == "/var/lib/watchd"
    assert passwd["watchd"][6] in ("/usr/sbin/nologin", "/sbin/nologin")
    assert "watchd" in {line.split(":")[0] for line in (tmp_path / "etc/group").read_text().splitlines()}


@pytest.mark.skipif(
    shutil.which("systemd-tmpfiles") is None or shutil.which("systemd-sysusers") is None,
    reason="systemd-tmpfiles/systemd-sysusers not installed",
)
def test_tmpfiles_creates_private_directories(tmp_path: Path) -> None:
    """systemd-tmpfiles (into a scratch root): state dir private, config dir readable by the group."""
    (tmp_path / "etc").mkdir()
    assert run("systemd-sysusers", f"--root={tmp_path}", str(SYSTEMD / "watchd.sysusers")).returncode == 0
    result = run("systemd-tmpfiles", f"--root={tmp_path}", "--create", str(SYSTEMD / "watchd.tmpfiles"))
    assert result.returncode == 0, result.stderr
    state = (tmp_path / "var/lib/watchd").stat()
    config = (tmp_path / "etc/watchd").stat()
    assert (state.st_mode & 0o7777, config.st_mode & 0o7777) == (0o700, 0o750)
    if os.geteuid() == 0:  # only root can chown; the owner is the uid sysusers allocated in the scratch root
        uid = next(
            int(line.split(":")[2])
            for line in (tmp_path / "etc/passwd").read_text().splitlines()
            if line.startswith("watchd:")
        )
        assert (state.st_uid, config.st_uid) == (uid, 0)
