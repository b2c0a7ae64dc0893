"""`watchd import icinga2` end to end: objects, apply rules, CheckCommand arguments, lambdas."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.helpers import FIXTURES, Validate, by_name, findings
from watchd.migrate.icinga2 import import_icinga2

FIXTURE = str(FIXTURES / "icinga2" / "icinga2.conf")
DEBIAN = Path("/etc/icinga2/icinga2.conf")
needs_debian = pytest.mark.skipif(
    not DEBIAN.exists(), reason="icinga2-common (scripts/bootstrap --test installs it)"
)


@pytest.fixture(scope="module")
def central():  # type: ignore[no-untyped-def]
    return import_icinga2(FIXTURE, node_name="master1", years=(2026, 2027))


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("web1:host", ("check_ping", "-H", "$WEB1_ADDRESS$", "-w", "3000,80%", "-c", "5000,100%")),
        ("web1:ping", ("check_ping", "-H", "$WEB1_ADDRESS$", "-w", "100,5%", "-c", "200,15%")),
        ("web1:web-www", ("check_http", "/health", "--timeout=10", "-H", "www.example.org", "-I", "$WEB1_ADDRESS$")),  # noqa: E501
        (
            "web1:web-shop",
            (
                "check_http", "--header", "X-A: 1", "--header", "X-B: 2", "--ssl", "--timeout=10",
                "-H", "shop.example.org", "-I", "$WEB1_ADDRESS$", "-e", "200", "301",
            ),
        ),
        ("db1:procs", ("check_procs", "-c", "1:", "-C", "postgres")),
        ("db1:disk", ("check_disk", "-w", "20%", "-c", "10%", "-p", "/")),
    ],
    ids=["object-imported-as-template", "order-and-missing-macro", "skip-key-separator-set-if-lambda",
         "repeat-key-and-service-vars-first", "string-command-through-sh-rules", "command-array"],
)  # fmt: skip
def test_commands(central, name: str, command: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """argv built as ResolveArguments builds it, macros resolved service, host, command."""
    assert by_name(central)[name].command == command


def test_apply_rules_groups_and_attributes(central) -> None:  # type: ignore[no-untyped-def]
    """assign/ignore where, apply for, groups by assign, flapping, timeouts, env, notes."""
    c = by_name(central)
    assert sorted(c) == [
        "db1:disk", "db1:host", "db1:ping", "db1:procs", "web1:host", "web1:ping", "web1:web-shop", "web1:web-www"  # noqa: E501
    ]  # fmt: skip
    assert (c["web1:ping"].interval, c["web1:ping"].retry_interval, c["web1:ping"].max_attempts) == (
        60,
        15,
        3,
    )
    assert (c["db1:procs"].interval, c["db1:procs"].retry_interval) == (300, 60)  # Icinga's defaults
    assert set(c["web1:ping"].tags) == {"frontend", "linux-servers", "pings", "host:web1"}
    assert (c["web1:web-www"].flap_low, c["web1:web-www"].flap_high) == (25, 40)
    assert c["web1:ping"].flap_detection is False
    assert c["web1:web-www"].env == {"LANGUAGE": "en"}
    assert c["db1:disk"].timeout == 120
    assert c["db1:disk"].description == "Disk / — the root file system"
    assert c["web1:web-www"].depends_on == ("web1:host", "web1:ping")
    assert c["db1:host"].depends_on == ("web1:host",)
    assert central.macros["WEB1_ADDRESS"].value == "192.0.2.10"


def test_notifications_become_notify_lists(central) -> None:  # type: ignore[no-untyped-def]
    """Users of the Notifications applied to a check; no Notification means nobody is told."""
    c = by_name(central)
    assert c["web1:ping"].notify == ("alice",)  # user group ops
    assert c["db1:procs"].notify == ("bob",)  # pager has no email
    assert c["web1:host"].notify == ("alice",)
    assert c["db1:ping"].notify == ()
    assert central.renotify_interval == 7200
    assert [x.name for x in central.contacts] == ["alice", "bob"]
    (office,) = central.calendars
    assert (office.name, office.hours, [d.isoformat() for d in office.holidays]) == (
        "office",
        "09:00-17:00",
        ["2026-12-24"],
    )


def test_what_is_not_translated(central) -> None:  # type: ignore[no-untyped-def]
    """Every object left out says where and why."""
    assert findings(central) == [
        "users.conf:9: User pager: has no email (pager has no watchd channel)",
        "timeperiods.conf:11: TimePeriod uneven: has different hours on different days (09:00-12:00, 13:00-17:00); a watchd calendar has one range",  # noqa: E501
        "hosts.conf:32: Host win1: passive only (enable_active_checks = false): watchd runs every check",
        "services.conf:51: Service db1!internal: CheckCommand icinga (commands.conf:71): an Icinga 2 internal check (execute = icinga-check-command)",  # noqa: E501
        "services.conf:28: Service web1!pipe: CheckCommand shelly (commands.conf:59): needs a shell: a pipe '|'",  # noqa: E501
        "services.conf:33: Service db1!last: CheckCommand runtime (commands.conf:63): $service.output$ is run-time state with no watchd equivalent",  # noqa: E501
        "services.conf:38: Service db1!look: CheckCommand lookup (commands.conf:67): get_host() needs the running Icinga 2",  # noqa: E501
        "dependencies.conf:11: apply ScheduledDowntime: use watchd maintenance windows",
    ]  # fmt: skip


def test_one_host(central) -> None:  # type: ignore[no-untyped-def]
    """With host=db1 only db1's services, named by service, with watchd's own $HOSTADDRESS$."""
    m = import_icinga2(FIXTURE, host="db1", node_name="master1")
    c = by_name(m)
    assert sorted(c) == ["disk", "ping", "procs"]
    assert c["ping"].command[:3] == ("check_ping", "-H", "$HOSTADDRESS$")


@pytest.mark.parametrize("full", [False, True], ids=["conf.d-file", "whole-file"])
def test_watchd_validate_accepts_the_output(central, validate: Validate, full: bool) -> None:  # type: ignore[no-untyped-def]
    """The written YAML passes `watchd validate`."""
    result = validate(central, full)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_debian
def test_debian_sample(validate: Validate) -> None:
    """Debian's icinga2-common sample with the ITL: figures in docs/migration.md."""
    m = import_icinga2(str(DEBIAN), node_name="web01.example.org")
    totals = m.totals()
    assert (len(m.checks), totals["imported"], totals["not translatable"], totals["not needed"]) == (
        12,
        33,
        4,
        262,
    )
    c = by_name(m)
    assert c["web01.example.org:load"].command == ("check_load", "-c", "10,6,4", "-w", "5,4,3")
    assert c["web01.example.org:http"].command == (
        "check_http",
        "-I",
        "$WEB01_EXAMPLE_ORG_ADDRESS$",
        "-u",
        "/",
    )
    assert c["web01.example.org:ping6"].command[:4] == (
        "check_ping",
        "-6",
        "-H",
        "$WEB01_EXAMPLE_ORG_ADDRESS6$",
    )
    for full in (False, True):
        result = validate(m, full)
        assert result.returncode == 0, result.stdout + result.stderr
