"""`watchd import nagios` end to end: the hand-written config with every construct, Debian's sample
config, both placements of checks, and `watchd validate` on what was written."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from migrate.helpers import FIXTURES, Validate, by_name, findings
from watchd.core.model import State
from watchd.migrate.nagios_files import import_nagios
from watchd.sources.plugin import BASE_ENV, PluginSource, resolve_executable

FIXTURE = str(FIXTURES / "nagios" / "nagios.cfg")
DEBIAN = Path("/etc/nagios4/nagios.cfg")
needs_debian = pytest.mark.skipif(
    not DEBIAN.exists(), reason="nagios4-core (scripts/bootstrap --test installs it)"
)


@pytest.fixture(scope="module")
def central():  # type: ignore[no-untyped-def]
    return import_nagios(FIXTURE, years=(2026, 2027))


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("web1:ping", ("check_ping", "-H", "$WEB1_ADDRESS$", "-w", "100.0,20%", "-c", "500.0,60%")),
        ("web1:host", ("check_ping", "-H", "$WEB1_ADDRESS$", "-w", "3000.0,80%", "-c", "5000.0,100%", "-p", "1")),  # noqa: E501
        (
            "web2:http",
            ("check_http", "-H", "shop.example.org", "-I", "$WEB2_ADDRESS$", "-u", "/index.html", "-a", "$NAGIOS_USER3$"),  # noqa: E501
        ),
        ("web1:root_disk", ("check_disk", "-w", "20%", "-c", "10%", "-p", "/")),
        ("db1:important", ("check_ping", "-H", "$DB1_ADDRESS$", "-w", "1,1%", "-c", "2,2%")),
        (
            "db1:alias",
            ("/usr/local/bin/check_thing", "--alias", "db1", "--semi", "a;b", "--bang", "x!y", "--dollar", "$$5"),  # noqa: E501
        ),
    ],
    ids=["arguments", "host-check", "continuation-custom-var-user-macro", "service-custom-var", "important-template", "escapes"],  # noqa: E501
)  # fmt: skip
def test_commands(central, name: str, command: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """Each command is expanded as Nagios would run it: $ARGn$, $USERn$, custom variables, \\; and \\!."""
    assert by_name(central)[name].command == command


def test_scheduling_inheritance_and_placement(central) -> None:  # type: ignore[no-untyped-def]
    """Intervals times interval_length, attempts through templates, timeouts from nagios.cfg."""
    checks = by_name(central)
    ping, host = checks["web1:ping"], checks["web2:host"]
    assert (ping.interval, ping.retry_interval, ping.max_attempts, ping.timeout) == (120, 30, 3, 45)
    assert (host.interval, host.retry_interval, host.max_attempts, host.timeout) == (300, 60, 5, 30)
    assert sorted(c for c in checks if c.endswith(":ping")) == [
        "db1:ping",
        "web1:ping",
        "web2:ping",
    ]  # host_name *
    assert [c for c in checks if c.endswith(":http")] == ["web2:http"]  # hostgroup web,!dc1 rejects web1
    assert checks["web1:root_disk"].flap_detection is False


def test_groups_dependencies_and_notifications(central) -> None:  # type: ignore[no-untyped-def]
    """Groups become tags, parents and dependencies become depends_on, contacts become notify."""
    c = by_name(central)
    assert set(c["web1:ping"].tags) == {"web", "all-hosts", "dc1", "everything", "frontends", "host:web1"}
    assert set(c["db1:ping"].tags) == {"dc1", "everything", "host:db1"}  # hostgroups null
    assert c["web2:host"].depends_on == ("web1:host",)  # parents
    assert c["db1:host"].depends_on == ("web1:host",)  # hostdependency
    assert c["web1:root_disk"].depends_on == ("web1:host", "web1:ping")  # servicedependency
    assert c["web2:http"].depends_on == ("web2:host", "web2:ping")  # same-host dependency over a host group
    assert set(c["web1:ping"].notify or ()) == {"alice", "bob"}  # the host's contact group, members both ways
    assert c["db1:alias"].notify == ("bob",)
    assert c["web2:host"].notify == ()  # notifications_enabled 0 from the second template
    assert central.renotify_interval == 15 * 60
    assert [x.name for x in central.contacts] == ["alice", "bob"]
    assert central.timezone == "Europe/Amsterdam"
    (office,) = central.calendars
    assert (office.name, office.hours, office.days) == (
        "office",
        "09:00-17:30",
        ("mon", "tue", "wed", "thu", "fri"),
    )
    assert office.holidays == (
        dt.date(2026, 11, 26), dt.date(2026, 12, 24), dt.date(2026, 12, 25), dt.date(2027, 11, 25), dt.date(2027, 12, 25)  # noqa: E501
    )  # fmt: skip


def test_what_is_not_translated_is_reported_with_file_and_line(central) -> None:  # type: ignore[no-untyped-def]
    """Every object left out says where it was and why."""
    assert findings(central) == [
        "web.cfg:107: service Orphan: no host 'nosuch'",
        "web.cfg:105: service Orphan: is assigned to no host",
        "templates.cfg:99: contact pagerbot: has no email (pager and addressN have no watchd channel)",
        "templates.cfg:122: timeperiod holidays: has no weekly hours (watchd calendars are weekly hours minus holidays)",  # noqa: E501
        "templates.cfg:128: timeperiod split: splits the day (08:00-12:00,13:00-17:00); a watchd calendar has one range per day",  # noqa: E501
        "templates.cfg:21: service web1/Pipe: command check_piped: needs a shell: a pipe '|'",
        "templates.cfg:21: service web2/Pipe: command check_piped: needs a shell: a pipe '|'",
        "templates.cfg:25: service db1/Env: command check_env: needs a shell: a shell variable $HOME",
        "templates.cfg:29: service db1/State: command check_state: $SERVICESTATE$ is Nagios run-time or on-demand data with no watchd equivalent",  # noqa: E501
        "web.cfg:93: service db1/Passive: passive only (active_checks_enabled 0): watchd runs every check itself and takes no passive results",  # noqa: E501
        "web.cfg:134: serviceescalation: watchd escalates by priority (notify.escalation), not per check",
    ]  # fmt: skip
    notes = "\n".join(findings(central, skipped=False))
    for part in ("notification_period office", "check_period office", "event_handler restart-it",
                 "first_notification_delay", "execution_failure_criteria", "criteria c:", "pager left out"):  # fmt: skip  # noqa: E501
        assert part in notes


def test_counts(central) -> None:  # type: ignore[no-untyped-def]
    """Per object kind: imported, not translatable, not needed (templates, unused commands)."""
    assert {k: dict(v) for k, v in central.counts.items() if v.total()} == {
        "command": {"imported": 5, "not translatable": 3, "not needed": 1},
        "contact": {"imported": 2, "not translatable": 1},
        "contactgroup": {"imported": 2},
        "host": {"imported": 3},
        "hostdependency": {"imported": 1},
        "hostgroup": {"imported": 4},
        "service": {"imported": 8, "not translatable": 6},
        "servicedependency": {"imported": 2},
        "serviceescalation": {"not translatable": 1},
        "servicegroup": {"imported": 1},
        "template": {"not needed": 8},
        "timeperiod": {"imported": 2, "not translatable": 2},
    }


def test_one_host_runs_its_own_checks() -> None:
    """With host=web1 only web1's services are imported, under their own names, with watchd's macros."""
    m = import_nagios(FIXTURE, host="web1")
    checks = by_name(m)
    assert sorted(checks) == ["office", "ping", "root_disk"]
    assert checks["ping"].command[:3] == ("check_ping", "-H", "$HOSTADDRESS$")
    assert checks["office"].depends_on == ("ping",)
    assert "host:web1" not in checks["ping"].tags
    assert m.macros == {}


@pytest.mark.parametrize("full", [False, True], ids=["conf.d-file", "whole-file"])
def test_watchd_validate_accepts_the_output(central, validate: Validate, full: bool) -> None:  # type: ignore[no-untyped-def]
    """The written YAML passes `watchd validate`, as a conf.d file beside a bare watchd.yaml and whole."""
    result = validate(central, full)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: 11 checks" in result.stdout


@needs_debian
def test_debian_sample(validate: Validate) -> None:
    """Debian's nagios4-core sample (nagios.cfg with /etc/nagios-plugins/config): figures in docs/migration.md."""  # noqa: E501
    m = import_nagios(str(DEBIAN))
    totals = m.totals()
    assert (len(m.checks), totals["imported"], totals["not translatable"], totals["not needed"]) == (
        9,
        24,
        2,
        87,
    )
    assert by_name(m)["localhost:root_partition"].command == (
        "check_disk",
        "-w",
        "20%",
        "-c",
        "10%",
        "-p",
        "/",
    )
    for full in (False, True):
        result = validate(m, full)
        assert result.returncode == 0, result.stdout + result.stderr


@needs_debian
def test_debian_sample_with_the_example_hosts() -> None:
    """nagios.cfg plus the printer, switch and windows examples it leaves commented out."""
    objects = DEBIAN.parent / "objects"
    m = import_nagios(
        [str(DEBIAN), *(str(objects / f) for f in ("printer.cfg", "switch.cfg", "windows.cfg"))]
    )
    totals = m.totals()
    assert (len(m.checks), totals["imported"], totals["not translatable"], totals["not needed"]) == (
        17,
        37,
        10,
        85,
    )
    assert {f.message for f in m.findings if f.skipped and f.subject.startswith("service")} == {
        "no command 'check_nt'", "no command 'check_hpjd'"
    }  # Debian's commands.cfg does not define them  # fmt: skip


@needs_debian
def test_imported_checks_run_with_the_real_plugins() -> None:
    """The argv of each local Debian sample check runs Debian's plugin to a real verdict, not a usage error."""  # noqa: E501
    m = import_nagios(str(DEBIAN), host="localhost")
    local = ["root_partition", "current_users", "total_processes", "current_load", "swap_usage"]
    for name in local:
        check = by_name(m)[name]
        argv = (resolve_executable(check.command[0], ("/usr/lib/nagios/plugins",)), *check.command[1:])
        result = asyncio.run(PluginSource(name, argv, dict(BASE_ENV)).run(30))
        assert result.state in (State.OK, State.WARNING, State.CRITICAL), (name, result.summary)
        assert "Usage" not in result.summary, (name, result.summary)
