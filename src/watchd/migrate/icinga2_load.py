"""Read an Icinga 2 configuration: icinga2.conf (or one .conf file, or a directory of them) and what it
includes, with `<itl>`-style includes looked up in the ITL directory; then collect its definitions."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field

from watchd.migrate.files import files_in, read_text, relative_to
from watchd.migrate.icinga2_ast import ApplyDef, Const, Include, ObjectDef, Other
from watchd.migrate.icinga2_eval import EvalError, Interp
from watchd.migrate.icinga2_lex import ParseError
from watchd.migrate.icinga2_parse import parse
from watchd.migrate.model import Finding, Origin

ITL_DIR = "/usr/share/icinga2/include"


@dataclass(slots=True)
class Loaded:
    interp: Interp
    objects: list[tuple[ObjectDef, str]] = field(default_factory=list)
    applies: list[tuple[ApplyDef, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    templates: int = 0  # `template` definitions (objects can be imported too, but are counted as objects)
    problems: list[Finding] = field(default_factory=list)


def load_icinga2(path: str, node_name: str, itl_dir: str = ITL_DIR) -> Loaded:
    out = Loaded(Interp(node_name))
    seen: set[str] = set()

    def include_file(p: str, origin: Origin | None) -> None:
        real = os.path.realpath(p)
        if real in seen:
            return
        seen.add(real)
        text = read_text(p, origin, out.problems)
        if text is None:
            return
        out.files.append(p)
        try:
            program = parse(text, p)
        except ParseError as exc:
            out.problems.append(Finding(Origin(p, exc.line), "file", f"cannot parse: {exc}"))
            return
        for st in program.statements:
            statement(st, p)

    def statement(st: object, file: str) -> None:
        if isinstance(st, Include):
            _include(st, file)
        elif isinstance(st, Const):
            try:
                out.interp.globals[st.name] = out.interp.eval(st.value, {}, {}, file)
            except EvalError as exc:
                out.problems.append(Finding(Origin(file, st.line), f"const {st.name}", str(exc)))
        elif isinstance(st, ObjectDef):
            if st.template:
                try:
                    name = str(out.interp.eval(st.name, {}, {}, file))
                except EvalError as exc:
                    out.problems.append(Finding(Origin(file, st.line), f"template {st.type}", str(exc)))
                    return
                out.interp.templates.setdefault((st.type, name), (st.body, file))
                out.templates += 1
            else:
                out.objects.append((st, file))
                try:  # an object can be imported like a template (hostalive imports the ping object)
                    name = str(out.interp.eval(st.name, {}, {}, file))
                    out.interp.templates.setdefault((st.type, name), (st.body, file))
                except EvalError:
                    pass
        elif isinstance(st, ApplyDef):
            out.applies.append((st, file))
        elif isinstance(st, Other):
            out.problems.append(
                Finding(Origin(file, st.line), st.what, "not evaluated: only definitions are", skipped=False)
            )

    def _include(st: Include, file: str) -> None:
        origin = Origin(file, st.line)
        if st.kind == "include_zones":
            out.problems.append(
                Finding(origin, "include_zones", "zones (distributed setups) are not imported")
            )
            return
        target = os.path.join(itl_dir, st.path) if st.angle else relative_to(file, st.path)
        if st.kind == "include_recursive":
            for f in files_in(target, "", origin, out.problems):
                if fnmatch.fnmatch(os.path.basename(f), st.pattern or "*.conf"):
                    include_file(f, origin)
            return
        matches = sorted(_glob(target))
        if not matches and not any(c in target for c in "*?["):
            out.problems.append(Finding(origin, f"include {st.path}", "no such file"))
        for f in matches:
            include_file(f, origin)

    if os.path.isdir(path):
        main = os.path.join(path, "icinga2.conf")
        if os.path.isfile(main):
            include_file(main, None)
        else:
            for f in files_in(path, ".conf", None, out.problems):
                include_file(f, None)
    else:
        include_file(path, None)
    return out


def _glob(pattern: str) -> list[str]:
    directory, name = os.path.split(pattern)
    try:
        return [os.path.join(directory, n) for n in os.listdir(directory or ".") if fnmatch.fnmatch(n, name)]
    except OSError:
        return []
