"""Nagios Core object files, nagios.cfg and resource.cfg as text -> raw definitions. Pure.

Follows xdata/xodtemplate.c of Nagios Core 4: a line ending in `\\` continues on the next (whose leading
blanks are dropped; `\\\\` is a literal backslash); `;` starts a comment anywhere unless written `\\;`; `#`
only at the start of a line; `define TYPE {` opens a definition and a lone `}` closes it; a directive is its
name, blanks, and the rest of the line; `include_file=`/`include_dir=` may appear between definitions.
Directive aliases (`host` for `host_name`, `normal_check_interval`, ...) become their canonical names here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from watchd.migrate.model import Finding, Origin

TYPES = (
    "timeperiod", "command", "contact", "contactgroup", "host", "hostgroup", "servicegroup", "service",
    "servicedependency", "serviceescalation", "hostdependency", "hostescalation", "hostextinfo",
    "serviceextinfo",
)  # fmt: skip
_DEPENDENCY = {
    "servicegroup": "servicegroup_name", "servicegroups": "servicegroup_name",
    "hostgroup": "hostgroup_name", "hostgroups": "hostgroup_name",
    "host": "host_name", "master_host": "host_name", "master_host_name": "host_name",
    "description": "service_description", "master_description": "service_description",
    "master_service_description": "service_description",
    "dependent_servicegroup": "dependent_servicegroup_name",
    "dependent_servicegroups": "dependent_servicegroup_name",
    "dependent_hostgroup": "dependent_hostgroup_name", "dependent_hostgroups": "dependent_hostgroup_name",
    "dependent_host": "dependent_host_name", "dependent_description": "dependent_service_description",
    "execution_failure_options": "execution_failure_criteria",
    "notification_failure_options": "notification_failure_criteria",
}  # fmt: skip
ALIASES: dict[str, dict[str, str]] = {
    "service": {
        "host": "host_name", "hosts": "host_name", "description": "service_description",
        "hostgroup": "hostgroup_name", "hostgroups": "hostgroup_name", "service_groups": "servicegroups",
        "normal_check_interval": "check_interval", "retry_check_interval": "retry_interval",
        "obsess_over_service": "obsess",
    },
    "host": {
        "host_groups": "hostgroups", "normal_check_interval": "check_interval",
        "retry_check_interval": "retry_interval", "checks_enabled": "active_checks_enabled",
        "obsess_over_host": "obsess",
    },
    "contact": {"contactgroups": "contact_groups"},
    "servicedependency": _DEPENDENCY,
    "hostdependency": _DEPENDENCY,
    "serviceescalation": _DEPENDENCY,
    "hostescalation": _DEPENDENCY,
}  # fmt: skip
# Group member lists given twice in one definition are joined, as Nagios does; other directives: last wins.
_APPENDED = {"members", "hostgroup_members", "servicegroup_members", "contactgroup_members"}
_TIMEPERIOD_META = {"use", "name", "timeperiod_name", "alias", "exclude", "register"}
_RANGES = re.compile(
    r"^(?P<spec>.*?)\s*(?P<ranges>\d{1,2}:\d{2}-\d{1,2}:\d{2}(?:\s*,\s*\d{1,2}:\d{2}-\d{1,2}:\d{2})*)$"
)


@dataclass(frozen=True, slots=True)
class Directive:
    value: str
    line: int


@dataclass(slots=True)
class RawObject:
    type: str
    origin: Origin
    directives: dict[str, Directive] = field(default_factory=dict)
    custom: dict[str, Directive] = field(default_factory=dict)  # `_NAME value`, name upper-cased
    timeranges: dict[str, Directive] = field(default_factory=dict)  # timeperiods: spec -> "09:00-17:00,..."

    def get(self, key: str) -> str | None:
        d = self.directives.get(key)
        return d.value if d else None


@dataclass(slots=True)
class ObjectFile:
    objects: list[RawObject] = field(default_factory=list)
    includes: list[tuple[str, str, Origin]] = field(default_factory=list)  # ("file"|"dir", path, origin)
    problems: list[Finding] = field(default_factory=list)


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first physical line number, logical line) after continuation lines are joined."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        start, buf = i + 1, lines[i]
        while True:
            if buf.endswith("\\\\"):
                buf = buf[:-1]
                break
            if buf.endswith("\\") and i + 1 < len(lines):
                i += 1
                buf = buf[:-1] + lines[i].lstrip(" \t")
                continue
            break
        i += 1
        yield start, buf


def strip_comment(line: str) -> str:
    """Cut at the first `;` not preceded by a backslash; `\\;` becomes `;`."""
    out: list[str] = []
    i = 0
    while i < len(line):
        c = line[i]
        if c == ";":
            if i > 0 and line[i - 1] == "\\":
                out[-1] = ";"
                i += 1
                continue
            break
        out.append(c)
        i += 1
    return "".join(out)


def parse_objects(text: str, file: str) -> ObjectFile:
    out = ObjectFile()
    current: RawObject | None = None
    for lineno, raw in logical_lines(text):
        line = strip_comment(raw).strip()
        if not line or line.startswith("#"):
            continue
        origin = Origin(file, lineno)
        if line.startswith("define"):
            kind = re.split(r"[\s{]", line[6:].strip(), maxsplit=1)[0]
            if current is not None:
                out.problems.append(Finding(origin, "definition", "starts before the previous one closed"))
            current = RawObject(kind, origin)
            if kind in TYPES:
                out.objects.append(current)
            else:  # read to its } and drop it
                out.problems.append(Finding(origin, f"define {kind}", "not a Nagios object type"))
        elif current is not None and line == "}":
            current = None
        elif current is not None:
            _add_directive(current, line, lineno)
        elif line.startswith("include_file=") or line.startswith("include_dir"):
            what = "file" if line.startswith("include_file") else "dir"
            out.includes.append((what, line.partition("=")[2].strip(), origin))
        elif line == "}":
            out.problems.append(Finding(origin, "}", "closes no definition"))
        else:
            out.problems.append(Finding(origin, line[:40], "unexpected statement outside a definition"))
    if current is not None:
        out.problems.append(Finding(current.origin, f"define {current.type}", "never closed (missing })"))
    return out


def _add_directive(obj: RawObject, line: str, lineno: int) -> None:
    m = re.match(r"(\S+)[ \t]*(.*)$", line)
    assert m is not None  # the line is stripped and not empty
    name, value = m.group(1), m.group(2).strip()
    if obj.type == "timeperiod" and name not in _TIMEPERIOD_META:
        m = _RANGES.match(f"{name} {value}".strip())
        spec = " ".join((m.group("spec") if m else f"{name} {value}").split())
        obj.timeranges[spec] = Directive(re.sub(r"\s+", "", m.group("ranges")) if m else "", lineno)
        return
    if name.startswith("_"):
        obj.custom[name[1:].upper()] = Directive(value, lineno)
        return
    name = ALIASES.get(obj.type, {}).get(name, name)
    old = obj.directives.get(name)
    if old is not None and name in _APPENDED and value != "null" and old.value != "null":
        value = f"{old.value},{value}"
    obj.directives[name] = Directive(value, lineno)


@dataclass(slots=True)
class MainConfig:
    """What the importer needs from nagios.cfg."""

    cfg_files: list[tuple[str, Origin]] = field(default_factory=list)
    cfg_dirs: list[tuple[str, Origin]] = field(default_factory=list)
    resource_files: list[tuple[str, Origin]] = field(default_factory=list)
    settings: dict[str, Directive] = field(default_factory=dict)

    def number(self, key: str, default: float) -> float:
        d = self.settings.get(key)
        try:
            return float(d.value) if d else default
        except ValueError:
            return default


def parse_main(text: str, file: str) -> MainConfig:
    out = MainConfig()
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = (p.strip() for p in line.partition("="))
        origin = Origin(file, lineno)
        if key == "cfg_file":
            out.cfg_files.append((value, origin))
        elif key == "cfg_dir":
            out.cfg_dirs.append((value, origin))
        elif key == "resource_file":
            out.resource_files.append((value, origin))
        else:
            out.settings[key] = Directive(value, lineno)
    return out


_USER = re.compile(r"^\$(USER\d{1,3})\$\s*=(.*)$")


def parse_resource(text: str, file: str) -> dict[str, tuple[str, Origin]]:
    """`$USERn$=value` lines (n = 1..256); `#` comments. The value runs to the end of the line."""
    out: dict[str, tuple[str, Origin]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _USER.match(line.strip())
        if m:
            out[m.group(1)] = (m.group(2).strip(), Origin(file, lineno))
    return out
