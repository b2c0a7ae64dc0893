"""Command line: parses arguments and hands them to the daemon or a one-shot helper."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence

from watchd import __version__
from watchd import config as config_mod
from watchd.cli import console as cli_console
from watchd.cli import importer as cli_importer
from watchd.cli import incidents as cli_incidents
from watchd.cli import locate
from watchd.cli import maintenance as cli_maintenance
from watchd.cli import notify as cli_notify
from watchd.cli import oncall as cli_oncall
from watchd.cli import sla as cli_sla
from watchd.cli.common import load_config, open_store
from watchd.config import ConfigError
from watchd.configkit import reader
from watchd.core.model import State
from watchd.core.timefmt import described
from watchd.runtime.logs import configure as configure_logging
from watchd.sources import reaper
from watchd.sources.plugin import BASE_ENV, PluginSource, resolve_executable


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if hasattr(args, "config"):
        args.config, args.config_how = _find_config(args.config)
    return int(args.func(args))


def _find_config(explicit: str | None) -> tuple[str, str]:
    """The one rule for every command (watchd.cli.locate); exit 1 naming every place looked at."""
    try:
        found = locate.find_config(
            explicit, os.environ, config_mod.default_data_dir(), checkout=locate.checkout_config()
        )
    except locate.NoConfig as exc:
        print(f"watchd: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    return found.path, found.how


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="watchd", description="Monitoring and alerting daemon for managed hosting."
    )
    p.add_argument("--version", action="version", version=f"watchd {__version__}")
    sub = p.add_subparsers(metavar="COMMAND")

    def with_config(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--config",
            "-c",
            help="main config file (default: $WATCHD_CONFIG, else the running watchd's, else"
            " /etc/watchd/watchd.yaml, else config/watchd.yaml of this source checkout)",
        )

    run = sub.add_parser("run", help="run the daemon in the foreground")
    with_config(run)
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check", help="run one plugin once and print the parsed result")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument(
        "--timeout", type=_timeout_arg, default=60.0, help="seconds, or 30s, 5m (default 60; at most 366d)"
    )
    check.add_argument("--plugin-dir", action="append", default=[], help="where to look for PLUGIN")
    check.add_argument("plugin", metavar="PLUGIN", help="plugin name or path")
    check.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")
    check.set_defaults(func=cmd_check)

    validate = sub.add_parser("validate", help="check the configuration and print every error")
    with_config(validate)
    validate.set_defaults(func=cmd_validate)

    status = sub.add_parser("status", help="current state of every check, from the state store")
    with_config(status)
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    cli_incidents.add_parser(sub, with_config)
    cli_maintenance.add_parsers(sub, with_config)
    cli_sla.add_parser(sub, with_config)
    cli_oncall.add_parser(sub, with_config)
    cli_notify.add_parser(sub, with_config)
    cli_importer.add_parser(sub)
    cli_console.add_parser(sub)
    return p


def _timeout_arg(text: str) -> float:
    """argparse `type=` for --timeout: a positive, finite duration as in the config, else a usage error."""
    try:
        return reader.duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_run(args: argparse.Namespace) -> int:
    from watchd.daemon import Daemon

    cfg = load_config(args.config)
    configure_logging(cfg.log.level, cfg.log.format)
    daemon = Daemon(cfg, args.config)
    # The daemon's only children are plugins (and asyncio's, in its group): it may claim every orphan.
    reaper.adopt_orphans()
    try:
        # The marker lets CLI commands without --config find this daemon's config (and store).
        with locate.daemon_marker(cfg.data_dir, args.config), contextlib.suppress(KeyboardInterrupt):
            asyncio.run(daemon.run_until_signalled())
    except locate.AlreadyRunning as exc:
        print(f"watchd: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    configure_logging("error", "console")
    extra = args.args[1:] if args.args[:1] == ["--"] else args.args
    dirs = tuple(args.plugin_dir) + config_mod.DEFAULT_PLUGIN_DIRS + (_repo_checks_dir(),)
    argv = (resolve_executable(args.plugin, dirs), *extra)
    source = PluginSource("check", argv, dict(BASE_ENV))
    result = asyncio.run(source.run(args.timeout))
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(f"{result.state.name}: {result.summary}")
        if result.long_output:
            print(result.long_output)
        for p in result.perfdata:
            print(f"  {p.label} = {p.value}{p.uom} warn={p.warn} crit={p.crit} min={p.min} max={p.max}")
        if result.reason:
            print(f"reason: {result.reason}")
    return int(result.state)


def _repo_checks_dir() -> str:
    """`checks/` of a source checkout, so `watchd check -- check_backup_age` works from the repo."""
    return os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "checks"))


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        cfg = config_mod.load(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem)
        sys.stdout.flush()  # the problems before the count, also where both streams share a terminal
        print(f"{len(exc.problems)} error(s) in {args.config} ({args.config_how})", file=sys.stderr)
        return 1
    missing = [
        f"{c.name}: {c.command[0]}"
        for c in cfg.checks.values()
        if c.type == "plugin" and not os.access(c.command[0], os.X_OK)
    ]
    for m in missing:
        print(f"warning: plugin not found or not executable: {m}")
    print(
        f"OK: {len(cfg.checks)} checks in {len(cfg.files)} file(s) from {cfg.files[0]} ({args.config_how});"
        f" state in {cfg.db_path}; times in {described(cfg.timezone)}"
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    _, store = open_store(args.config)
    statuses = store.load_statuses()
    store.close()
    rows = [statuses[n] for n in sorted(statuses)]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "check": s.check,
                        "state": s.state.name,
                        "state_type": s.state_type.value,
                        "attempt": s.attempt,
                        "last_check": s.last_check,
                        "last_change": s.last_change,
                        "summary": s.summary,
                        "flapping": s.flapping,
                    }
                    for s in rows
                ]
            )
        )
    else:
        now = time.time()
        for s in rows:
            age = f"{now - s.last_check:.0f}s ago" if s.last_check else "never"
            flap = " FLAPPING" if s.flapping else ""
            head = f"{s.check:<24} {s.state.name:<8} {s.state_type.value:<4} {s.attempt}"
            print(f"{head} {age:>10}{flap}  {s.summary}")
    worst = max((s.state for s in rows if s.state_type.value == "HARD"), default=State.OK)
    return int(worst)
