"""`watchd import` as a user runs it: files written, the report on stderr, clear errors, and the result
loaded by `watchd validate` beside the shipped config."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from migrate.helpers import FIXTURES

REPO = Path(__file__).resolve().parents[2]
NAGIOS = str(FIXTURES / "nagios" / "nagios.cfg")


def run(watchd_cmd: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*watchd_cmd, *args], capture_output=True, text=True, timeout=60)


def test_import_into_conf_d_of_the_shipped_config(tmp_path: Path, watchd_cmd: list[str]) -> None:
    """`-o conf.d/imported.yaml` beside the shipped watchd.yaml (which has checks but no macros) validates."""
    shutil.copy(REPO / "config" / "watchd.yaml", tmp_path / "watchd.yaml")
    with (tmp_path / "watchd.yaml").open("a") as f:
        f.write(f"\ndata_dir: {tmp_path / 'data'}\n")
    out = tmp_path / "conf.d" / "imported.yaml"
    r = run(watchd_cmd, "import", "nagios", NAGIOS, "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "web.cfg:93: service db1/Passive: not translated: passive only" in r.stderr
    assert "11 checks written; objects: 30 imported, 13 not translatable, 9 not needed" in r.stderr
    assert "  service: 8 imported, 6 not translatable" in r.stderr
    text = out.read_text()
    assert "# from " in text
    assert "web.cfg:" in text  # every check says where it came from
    v = run(watchd_cmd, "validate", "--config", str(tmp_path / "watchd.yaml"))
    assert v.returncode == 0, v.stdout + v.stderr


def test_stdout_full_file_parses_as_yaml(watchd_cmd: list[str]) -> None:
    """Without -o the YAML goes to stdout; --full makes a complete file with contacts and calendars."""
    r = run(watchd_cmd, "import", "nagios", NAGIOS, "--full", "-q")
    assert r.returncode == 0
    doc = yaml.safe_load(r.stdout)
    assert set(doc) == {"contacts", "incidents", "notify", "macros", "checks"}
    assert doc["incidents"]["calendars"]["office"]["timezone"] == "Europe/Amsterdam"
    assert doc["checks"]["web1:ping"]["notify"] == ["bob", "alice"]
    assert "not translated" not in r.stderr  # --quiet: only the summary


def test_per_host_writes_a_file_per_host(tmp_path: Path, watchd_cmd: list[str]) -> None:
    """--per-host DIR writes DIR/HOST.yaml, each with only that host's checks, named by service."""
    r = run(watchd_cmd, "import", "nagios", NAGIOS, "--per-host", str(tmp_path / "hosts"), "-q")
    assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in (tmp_path / "hosts").iterdir())
    assert files == ["db1.yaml", "web1.yaml", "web2.yaml"]
    web1 = yaml.safe_load((tmp_path / "hosts" / "web1.yaml").read_text())
    assert sorted(web1["checks"]) == ["office", "ping", "root_disk"]


def test_nrpe_and_icinga2_sources(watchd_cmd: list[str]) -> None:
    """The other two sources through the same command."""
    r = run(watchd_cmd, "import", "nrpe", str(FIXTURES / "nrpe" / "nrpe.cfg"), "-q")
    assert r.returncode == 0
    assert "check_swap:" in r.stdout
    r = run(watchd_cmd, "import", "icinga2", str(FIXTURES / "icinga2"), "--node-name", "master1", "-q")
    assert r.returncode == 0
    assert "web1:web-shop:" in r.stdout


def test_bad_invocations(tmp_path: Path, watchd_cmd: list[str]) -> None:
    """A missing path, options that do not fit the source, and an unknown time zone exit non-zero."""
    cases = [
        (["import", "nagios", str(tmp_path / "nope.cfg")], 1, "no such file or directory"),
        (["import", "nrpe", str(FIXTURES / "nrpe" / "nrpe.cfg"), "--host", "x"], 2, "do not apply"),
        (["import", "nagios", NAGIOS, "--per-host", str(tmp_path), "--host", "web1"], 2, "--per-host"),
        (["import", "nagios", NAGIOS, "--timezone", "Mars/Olympus"], 2, "unknown time zone"),
        (["import", "icinga2", NAGIOS, NAGIOS], 2, "reads one PATH"),
    ]
    for args, code, message in cases:
        r = run(watchd_cmd, *args)
        assert (r.returncode, message in r.stderr) == (code, True), (args, r.stderr)
