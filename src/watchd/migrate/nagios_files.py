"""Find and read a Nagios configuration: nagios.cfg (its cfg_file, cfg_dir, resource_file), one object
file, or a directory of them; then parse, resolve and translate (nagios_parse, _objects, _translate)."""

from __future__ import annotations

import os
import re

from watchd.migrate.files import files_in, read_text, relative_to
from watchd.migrate.model import Finding, Migration, Origin
from watchd.migrate.nagios_objects import resolve
from watchd.migrate.nagios_parse import MainConfig, RawObject, parse_main, parse_objects, parse_resource
from watchd.migrate.nagios_translate import Settings, translate

_MAIN = re.compile(r"^\s*(cfg_file|cfg_dir|resource_file)\s*=", re.M)


class _Reader:
    def __init__(self) -> None:
        self.objects: list[RawObject] = []
        self.problems: list[Finding] = []
        self.files: list[str] = []
        self.seen: set[str] = set()

    def object_file(self, path: str, origin: Origin | None) -> None:
        real = os.path.realpath(path)
        if real in self.seen:
            return
        self.seen.add(real)
        text = read_text(path, origin, self.problems)
        if text is None:
            return
        self.files.append(path)
        parsed = parse_objects(text, path)
        self.objects.extend(parsed.objects)
        self.problems.extend(parsed.problems)
        for kind, target, where in parsed.includes:
            full = relative_to(path, target)
            self.object_dir(full, where) if kind == "dir" else self.object_file(full, where)

    def object_dir(self, path: str, origin: Origin | None) -> None:
        for f in files_in(path, ".cfg", origin, self.problems):
            self.object_file(f, origin)


def import_nagios(
    paths: str | list[str], host: str | None = None, years: tuple[int, ...] = (2026, 2027)
) -> Migration:
    """Read each PATH (nagios.cfg, an object file or a directory) and translate them together. Without a
    nagios.cfg, a resource.cfg beside the objects (or one level up) provides the $USERn$ macros."""
    rd = _Reader()
    main: MainConfig | None = None
    resources: dict[str, tuple[str, Origin]] = {}

    def resource(path: str, origin: Origin | None) -> None:
        res = read_text(path, origin, rd.problems)
        if res is not None:
            rd.files.append(path)
            resources.update(parse_resource(res, path))

    for path in [os.path.abspath(p) for p in ([paths] if isinstance(paths, str) else paths)]:
        main_path = os.path.join(path, "nagios.cfg") if os.path.isdir(path) else path
        text = read_text(main_path, None, []) if os.path.isfile(main_path) else None
        if text is not None and _MAIN.search(text):
            main = parse_main(text, main_path)
            rd.files.append(main_path)
            for f, origin in main.cfg_files:
                rd.object_file(relative_to(main_path, f), origin)
            for d, origin in main.cfg_dirs:
                rd.object_dir(relative_to(main_path, d), origin)
            for f, origin in main.resource_files:
                resource(relative_to(main_path, f), origin)
            continue
        if os.path.isdir(path):
            rd.object_dir(path, None)
        else:
            rd.object_file(path, None)
        if main is None and not resources:
            here = path if os.path.isdir(path) else os.path.dirname(path)
            for candidate in (
                os.path.join(here, "resource.cfg"),
                os.path.join(os.path.dirname(here), "resource.cfg"),
            ):
                if os.path.isfile(candidate):
                    resource(candidate, None)
                    break
    settings = Settings(host=host, years=years, resources=resources)
    if main is not None:
        regexp = main.settings.get("use_regexp_matching")
        if regexp is not None and regexp.value == "1":
            why = "host and service names are matched literally here, not as regular expressions"
            rd.problems.append(
                Finding(Origin(main_path, regexp.line), "use_regexp_matching", why, skipped=False)
            )
        state = main.settings.get("service_check_timeout_state")
        settings = Settings(
            interval_length=main.number("interval_length", 60.0),
            service_check_timeout=main.number("service_check_timeout", 60.0),
            host_check_timeout=main.number("host_check_timeout", 30.0),
            timeout_state=state.value if state else "c",
            flap_detection=main.number("enable_flap_detection", 1) != 0,
            host=host,
            years=years,
            resources=resources,
        )
    objs = resolve(rd.objects)
    objs.problems[:0] = rd.problems
    migration = translate(objs, settings)
    migration.inputs = tuple(rd.files)
    tz = main.settings.get("use_timezone") if main is not None else None
    migration.timezone = tz.value if tz else None
    return migration
