"""Nagios object files read as xodtemplate.c reads them: comments, continuations, aliases, errors."""

from __future__ import annotations

import pytest

from watchd.migrate.nagios_macros import expand, split_check_command
from watchd.migrate.nagios_parse import parse_main, parse_objects, parse_resource, strip_comment


@pytest.mark.parametrize(
    ("line", "out"),
    [
        ("check_command x ; a comment", "check_command x "),
        ("command_line a\\;b", "command_line a;b"),
        ("command_line a\\;b;c", "command_line a;b"),
        ("; all comment", ""),
        ("host_name web#1", "host_name web#1"),
    ],
    ids=["trailing", "escaped", "escaped-then-comment", "whole-line", "hash-is-text-inside"],
)
def test_strip_comment(line: str, out: str) -> None:
    """`;` starts a comment unless escaped; `#` is only a comment at the start of a line."""
    assert strip_comment(line) == out


def test_definitions_directives_and_lines() -> None:
    """Continuations join lines, aliases become canonical names, custom variables are upper-cased."""
    text = (
        "# comment\n"
        "define service{\n"
        "    host          web1   ; inline\n"
        "    description   HTTP\n"
        "    normal_check_interval 5\n"
        "    check_command check_http!-u \\\n"
        "                  /index.html\n"
        "    _Port         8080\n"
        "}\n"
        "include_file=other.cfg\n"
    )
    f = parse_objects(text, "x.cfg")
    (svc,) = f.objects
    assert (svc.type, svc.origin.line) == ("service", 2)
    assert svc.get("host_name") == "web1"
    assert svc.get("service_description") == "HTTP"
    assert svc.get("check_interval") == "5"
    assert svc.get("check_command") == "check_http!-u /index.html"
    assert svc.directives["check_command"].line == 6
    assert svc.custom["PORT"].value == "8080"
    assert [(k, p) for k, p, _ in f.includes] == [("file", "other.cfg")]
    assert f.problems == []


def test_group_members_given_twice_are_joined() -> None:
    """A second `members` line adds to the first, as Nagios does; other directives: the last wins."""
    f = parse_objects(
        "define hostgroup {\nhostgroup_name g\nmembers a\nmembers b\nalias x\nalias y\n}\n", "g.cfg"
    )
    assert f.objects[0].get("members") == "a,b"
    assert f.objects[0].get("alias") == "y"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("define widget {\n}\n", "g.cfg:1: define widget: not translated: not a Nagios object type"),
        ("define host {\nhost_name a\n", "g.cfg:1: define host: not translated: never closed (missing })"),
        ("host_name a\n", "g.cfg:1: host_name a: not translated: unexpected statement outside a definition"),
        ("define host {\ndefine host {\n}\n", "g.cfg:2: definition: not translated: starts before the previous one closed"),  # noqa: E501
    ],
    ids=["unknown-type", "unclosed", "stray-directive", "nested-define"],
)  # fmt: skip
def test_malformed_files_are_reported_with_file_and_line(text: str, problem: str) -> None:
    """Broken object files give findings with file:line instead of an exception."""
    assert [str(p) for p in parse_objects(text, "g.cfg").problems] == [problem]


def test_timeperiod_lines_keep_their_date_specs() -> None:
    """A time range line's key is its date spec, however many words it has."""
    f = parse_objects(
        "define timeperiod {\ntimeperiod_name t\nmonday 09:00-12:00, 13:00-17:00\n"
        "thursday 4   november 00:00-00:00\n}\n",
        "t.cfg",
    )
    tr = f.objects[0].timeranges
    assert tr["monday"].value == "09:00-12:00,13:00-17:00"
    assert tr["thursday 4 november"].value == "00:00-00:00"


def test_main_and_resource_files() -> None:
    """nagios.cfg lists object files and settings; resource.cfg holds $USERn$ values."""
    main = parse_main("cfg_file=a.cfg\ncfg_dir=objs\n#cfg_file=off.cfg\ninterval_length=30\n", "nagios.cfg")
    assert [f for f, _ in main.cfg_files] == ["a.cfg"]
    assert [d for d, _ in main.cfg_dirs] == ["objs"]
    assert main.number("interval_length", 60) == 30
    res = parse_resource("# x\n$USER1$=/usr/lib/nagios/plugins\n$USER7$= p=w;rd \n", "resource.cfg")
    assert {k: v for k, (v, _) in res.items()} == {"USER1": "/usr/lib/nagios/plugins", "USER7": "p=w;rd"}


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("a $X$ b", "a [X] b"),
        ("cost $$5", "cost $5"),
        ("$UNKNOWN$ stays", "$UNKNOWN$ stays"),
        ("a $X$$X$", "a [X][X]"),
        ("stray $X", "stray [X]"),
        ("stray $Y", "stray $Y"),
    ],
    ids=["known", "escaped-dollar", "unknown-kept", "adjacent", "unclosed-known", "unclosed-unknown"],
)
def test_macro_expansion(text: str, out: str) -> None:
    """process_macros_r(): known names replaced (even unclosed at the end, as Nagios does), `$$` is `$`,
    unknown names left as written."""
    assert expand(text, lambda name: f"[{name}]" if name == "X" else None) == out


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("check_ping!100,20%!500,60%", ("check_ping", ["100,20%", "500,60%"])),
        ("check_x", ("check_x", [])),
        ("check_x!a\\!b!", ("check_x", ["a!b", ""])),
    ],
    ids=["two-args", "none", "escaped-bang-and-empty"],
)
def test_check_command_arguments(text: str, out: tuple[str, list[str]]) -> None:
    """`!` separates arguments; `\\!` is a literal `!`."""
    assert split_check_command(text) == out
