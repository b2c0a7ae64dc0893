"""`watchd import nrpe`: command[] lines with their includes, as NRPE reads them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from migrate.helpers import FIXTURES, Validate, by_name, findings
from watchd.core.model import State
from watchd.migrate.nrpe import import_nrpe, parse_nrpe
from watchd.sources.plugin import BASE_ENV, PluginSource, resolve_executable

DEBIAN = Path("/etc/nagios/nrpe.cfg")
needs_debian = pytest.mark.skipif(not DEBIAN.exists(), reason="nagios-nrpe-server (scripts/bootstrap --test)")


def test_parse_lines() -> None:
    """command[name]=line, include, include_file and include_dir; settings; comments skipped."""
    f = parse_nrpe(
        "# c\ncommand[a b]= /bin/x -w 1 \ninclude=x.cfg\ninclude_file=y.cfg\ninclude_dir=d\nfoo=1\n", "n.cfg"
    )
    assert [(n, line) for n, line, _ in f.commands] == [("a b", "/bin/x -w 1")]
    assert [(k, p) for k, p, _ in f.includes] == [("file", "x.cfg"), ("file", "y.cfg"), ("dir", "d")]
    assert f.settings["foo"][0] == "1"


def test_fixture() -> None:
    """Includes are followed (only .cfg files in include_dir), the last definition wins, shells and
    $ARGn$ are reported."""
    m = import_nrpe(str(FIXTURES / "nrpe" / "nrpe.cfg"))
    checks = by_name(m)
    assert list(checks) == ["check_load", "check_quoted", "check_users", "check_swap", "check_apt"]
    assert checks["check_users"].command == ("check_users", "-w", "20", "-c", "50")  # local.cfg redefines it
    assert checks["check_quoted"].command == ("check_procs", "-a", "nginx: worker", "-c", "1:")
    assert {c.timeout for c in m.checks} == {30.0}
    assert findings(m) == [
        "nrpe.cfg:7: command[check_disk_arg]: takes $ARGn$ from the caller's check_nrpe -a: write the values into the watchd check",  # noqa: E501
        "nrpe.cfg:8: command[check_mailq]: needs a shell: a pipe '|'",
        "apt.cfg:2: command[check_backup]: needs a shell: '&' (background or &&)",
    ]  # fmt: skip
    assert dict(m.counts["command"]) == {"imported": 5, "not translatable": 3, "not needed": 1}


@needs_debian
def test_debian_sample(validate: Validate) -> None:
    """Debian's nrpe.cfg: its five commands become checks that run with the real plugins."""
    m = import_nrpe(str(DEBIAN))
    assert [c.name for c in m.checks] == [
        "check_users", "check_load", "check_hda1", "check_zombie_procs", "check_total_procs"
    ]  # fmt: skip
    assert (m.totals()["imported"], m.totals()["not translatable"]) == (5, 0)
    assert validate(m, False).returncode == 0
    for check in m.checks:
        if check.name == "check_hda1":
            continue  # /dev/hda1 exists on no current machine
        argv = (resolve_executable(check.command[0], ("/usr/lib/nagios/plugins",)), *check.command[1:])
        result = asyncio.run(PluginSource(check.name, argv, dict(BASE_ENV)).run(30))
        assert result.state in (State.OK, State.WARNING, State.CRITICAL), (check.name, result.summary)
