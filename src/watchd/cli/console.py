"""`watchd console ...`: the fleet console (run, validate, passwd, report)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from typing import Any

DEFAULT_CONFIG = "/etc/watchd/console.yaml"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("console", help="the fleet console: dashboard, customer pages, fleet SLA reports")
    csub = p.add_subparsers(metavar="ACTION")

    def with_config(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--console-config", "-C", dest="console_config",
            default=os.environ.get("WATCHD_CONSOLE_CONFIG", DEFAULT_CONFIG),
            help=f"console config file (default: $WATCHD_CONSOLE_CONFIG, else {DEFAULT_CONFIG})",
        )  # fmt: skip

    run = csub.add_parser("run", help="run the console in the foreground")
    with_config(run)
    run.set_defaults(func=cmd_run)
    validate = csub.add_parser("validate", help="check the console config and print every error")
    with_config(validate)
    validate.set_defaults(func=cmd_validate)
    passwd = csub.add_parser("passwd", help="hash an operator's password (prints the argon2 hash)")
    passwd.set_defaults(func=cmd_passwd)
    report = csub.add_parser("report", help="a customer's SLA report for one month")
    with_config(report)
    report.add_argument("--customer", required=True)
    report.add_argument("--month", help="YYYY-MM (default: this month, in the customer's time zone)")
    report.add_argument("--format", choices=("text", "json", "csv", "html"), default="text")
    report.add_argument("--internal", action="store_true", help="with host and check names (for ops)")
    report.set_defaults(func=cmd_report)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _load(path: str) -> Any:
    from watchd.console import config
    from watchd.core.errors import ConfigError

    try:
        return config.load(path)
    except ConfigError as exc:
        print(f"watchd console: {len(exc.problems)} problem(s) in the config:", file=sys.stderr)
        for p in exc.problems:
            print(f"  {p}", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_validate(args: argparse.Namespace) -> int:
    cfg = _load(args.console_config)
    print(
        f"{args.console_config}: ok ({len(cfg.customers)} customers, {len(cfg.operators)} operators,"
        f" broker {cfg.mqtt.host}:{cfg.mqtt.port}, listening on {cfg.listen_host}:{cfg.listen_port})"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from watchd.console.server import ConsoleServer
    from watchd.runtime.logs import configure as configure_logging

    cfg = _load(args.console_config)
    configure_logging("info", "auto")
    try:
        server = ConsoleServer(cfg)
    except OSError as exc:
        print(f"watchd console: {exc}", file=sys.stderr)
        return 1
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.run_until_signalled())
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    from watchd.console import accounts

    return accounts.passwd_main([])


def cmd_report(args: argparse.Namespace) -> int:
    from watchd.console import report

    argv = ["--config", args.console_config, "--customer", args.customer, "--format", args.format]
    if args.month:
        argv += ["--month", args.month]
    if args.internal:
        argv.append("--internal")
    return report.report_main(argv)
