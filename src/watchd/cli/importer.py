"""`watchd import nagios|icinga2|nrpe PATH`: write a watchd config from another monitoring system's.

The translation is in `watchd.migrate`; this module picks the source, the placement of checks (every host
into one file, `--host`, or `--per-host DIR`), writes the YAML and prints what was not translated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import sys
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watchd.migrate.icinga2 import import_icinga2
from watchd.migrate.model import OUTCOMES, Migration
from watchd.migrate.nagios_files import import_nagios
from watchd.migrate.nagios_translate import check_name
from watchd.migrate.nrpe import import_nrpe
from watchd.migrate.yamlout import render


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import",
        help="translate a Nagios, Icinga 2 or NRPE configuration into watchd checks",
        description="Write a commented watchd config from nagios.cfg (or object files), an Icinga 2 "
        "configuration or nrpe.cfg; print what could not be translated, with file:line, on stderr.",
    )
    p.add_argument("source", choices=("nagios", "icinga2", "nrpe"))
    what = "nagios.cfg / icinga2.conf / nrpe.cfg, a file, or a directory (nagios: several, read together)"
    p.add_argument("paths", nargs="+", metavar="PATH", help=what)
    p.add_argument(
        "-o", "--output", default="-", help="file to write (default: stdout), e.g. conf.d/imported.yaml"
    )
    p.add_argument("--host", help="import only this host's services, as checks that run on that host")
    p.add_argument(
        "--per-host", metavar="DIR", help="write DIR/HOST.yaml for every host, each as with --host"
    )
    full = "a complete watchd.yaml (contacts, calendars live) instead of a conf.d file"
    p.add_argument("--full", action="store_true", help=full)
    p.add_argument(
        "--timezone", help="time zone of the calendars (default: use_timezone, /etc/timezone, UTC)"
    )
    p.add_argument("--node-name", help="Icinga 2's NodeName (default: this machine's FQDN)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the summary on stderr")
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    for path in args.paths:
        if not os.path.exists(path):
            print(f"watchd import: {path}: no such file or directory", file=sys.stderr)
            return 1
    if len(args.paths) > 1 and args.source != "nagios":
        print(
            f"watchd import: {args.source} reads one PATH (its main file includes the rest)", file=sys.stderr
        )
        return 2
    args.path = args.paths[0]
    if args.per_host and (args.host or args.output != "-"):
        print(
            "watchd import: --per-host writes one file per host; give it without --host and -o",
            file=sys.stderr,
        )
        return 2
    if args.source == "nrpe" and (args.host or args.per_host):
        print(
            "watchd import: nrpe.cfg describes the host it is on; --host and --per-host do not apply",
            file=sys.stderr,
        )
        return 2
    year = dt.date.today().year
    years = (year, year + 1)
    run = _importer(args, years)
    command = f"watchd import {args.source} " + " ".join(shlex.quote(p) for p in args.paths)
    first = run(args.host)
    timezone = _timezone(args.timezone or first.timezone)
    if timezone is None:
        print(f"watchd import: unknown time zone {args.timezone or first.timezone!r}", file=sys.stderr)
        return 2
    if args.per_host:
        os.makedirs(args.per_host, exist_ok=True)
        for host in first.hosts:
            m = run(host)
            path = os.path.join(args.per_host, f"{check_name(host)}.yaml")
            _write(path, render(m, f"{command} (host {host})", full=args.full, timezone=timezone))
            _report(m, args.quiet, f"{path}: ")
        return 0
    _write(args.output, render(first, command, full=args.full, timezone=timezone))
    _report(first, args.quiet)
    return 0


def _importer(args: argparse.Namespace, years: tuple[int, int]) -> Callable[[str | None], Migration]:
    if args.source == "nagios":
        return lambda host: import_nagios(args.paths, host=host, years=years)
    if args.source == "icinga2":
        return lambda host: import_icinga2(args.path, host=host, node_name=args.node_name, years=years)
    return lambda _host: import_nrpe(args.path)


def _timezone(name: str | None) -> str | None:
    if name is None:
        try:
            with open("/etc/timezone", encoding="utf-8") as f:
                name = f.read().strip() or "UTC"
        except OSError:
            name = "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _report(m: Migration, quiet: bool, prefix: str = "") -> None:
    if not quiet:
        for f in m.findings:
            print(f"{prefix}{f}", file=sys.stderr)
    totals = m.totals()
    print(
        f"{prefix}{len(m.checks)} checks written; objects: "
        + ", ".join(f"{totals[o]} {o}" for o in OUTCOMES),
        file=sys.stderr,
    )
    for kind in sorted(m.counts):
        c = m.counts[kind]
        if c.total():
            print(f"{prefix}  {kind}: " + ", ".join(f"{c[o]} {o}" for o in OUTCOMES if c[o]), file=sys.stderr)
