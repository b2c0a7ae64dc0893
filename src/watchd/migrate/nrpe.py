"""NRPE's nrpe.cfg (`command[name]=...`, `include=`, `include_dir=`) -> watchd checks on this host.

NRPE runs each command line through /bin/sh when Nagios asks for it; watchd runs the same plugin on its
own schedule (watchd's default interval: NRPE has none). `$ARGn$` are filled in by the caller
(check_nrpe -a) when dont_blame_nrpe=1; watchd has no caller, so such a command is reported, with the
arguments to write into the check. The parser (`parse_nrpe`) is pure; `import_nrpe` walks the includes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from watchd.migrate.commandline import NeedsShell, split
from watchd.migrate.files import files_in, read_text, relative_to
from watchd.migrate.model import Check, Finding, Migration, Origin
from watchd.migrate.nagios_macros import expand
from watchd.migrate.nagios_translate import check_name, plugin_name

_COMMAND = re.compile(r"^command\[(?P<name>[^\]]+)\]\s*=(?P<line>.*)$")
_ARG = re.compile(r"\$ARG\d+\$")


@dataclass(slots=True)
class NrpeFile:
    commands: list[tuple[str, str, Origin]] = field(default_factory=list)
    includes: list[tuple[str, str, Origin]] = field(default_factory=list)  # ("file"|"dir", path, origin)
    settings: dict[str, tuple[str, Origin]] = field(default_factory=dict)


def parse_nrpe(text: str, file: str) -> NrpeFile:
    out = NrpeFile()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        origin = Origin(file, lineno)
        if m := _COMMAND.match(line):
            out.commands.append((m["name"].strip(), m["line"].strip(), origin))
            continue
        key, sep, value = (p.strip() for p in line.partition("="))
        if not sep:
            continue
        if key in ("include", "include_file", "include_dir"):
            out.includes.append(("dir" if key == "include_dir" else "file", value, origin))
        else:
            out.settings[key] = (value, origin)
    return out


def translate_nrpe(files: list[NrpeFile], problems: list[Finding]) -> Migration:
    m = Migration("nrpe")
    m.findings.extend(problems)
    settings: dict[str, tuple[str, Origin]] = {}
    for f in files:
        settings.update(f.settings)
    blame = settings.get("dont_blame_nrpe", ("0", None))[0] == "1"
    timeout = _float(settings.get("command_timeout", ("60", None))[0], 60.0)
    names: set[str] = set()
    last: dict[str, Origin] = {}
    for f in files:
        for name, _line, origin in f.commands:
            last[name] = origin
    for f in files:
        for name, line, origin in f.commands:
            subject = f"command[{name}]"
            if last[name] != origin:  # NRPE looks commands up newest first: the last definition wins
                m.note(origin, subject, f"defined again at {last[name]}, which wins (as in NRPE)")
                m.count("command", "not needed")
                continue
            if _ARG.search(line):
                why = (
                    "the caller's check_nrpe -a"
                    if blame
                    else "nothing (dont_blame_nrpe=0), so they are empty"
                )
                m.skip(origin, subject, f"takes $ARGn$ from {why}: write the values into the watchd check")
                m.count("command", "not translatable")
                continue
            try:
                argv = list(split(expand(line, lambda _name: None)))
            except NeedsShell as exc:
                m.skip(origin, subject, f"needs a shell: {exc}")
                m.count("command", "not translatable")
                continue
            argv[0] = plugin_name(argv[0])
            cname = check_name(name)
            if cname in names:
                m.note(
                    origin,
                    subject,
                    f"{cname} was taken by another command; this check is {cname}_{origin.line}",
                )
                cname = f"{cname}_{origin.line}"
            names.add(cname)
            check = Check(cname, tuple(argv), origin, description=f"NRPE {name}")
            check.comments.append(subject)
            if timeout != 60.0:
                check.timeout = timeout
            m.checks.append(check)
            m.count("command", "imported")
    return m


def _float(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default


def import_nrpe(path: str) -> Migration:
    """Read nrpe.cfg (or a directory of .cfg files) with everything it includes, and translate it."""
    path = os.path.abspath(path)
    problems: list[Finding] = []
    parsed: list[NrpeFile] = []
    seen: set[str] = set()
    inputs: list[str] = []

    def read(p: str, origin: Origin | None) -> None:
        if os.path.realpath(p) in seen:
            return
        seen.add(os.path.realpath(p))
        text = read_text(p, origin, problems)
        if text is None:
            return
        inputs.append(p)
        f = parse_nrpe(text, p)
        parsed.append(f)
        for kind, target, where in f.includes:
            full = relative_to(p, target)
            for inc in files_in(full, ".cfg", where, problems) if kind == "dir" else [full]:
                read(inc, where)

    if os.path.isdir(path):
        for f in files_in(path, ".cfg", None, problems):
            read(f, None)
    else:
        read(path, None)
    m = translate_nrpe(parsed, problems)
    m.inputs = tuple(inputs)
    return m
