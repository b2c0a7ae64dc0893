"""`watchd sla report`: availability per service for a month, with incidents against their targets.

Reads the state store (the daemon may be running); `--format json` prints the same document as
`GET /api/v1/sla/report`. The rules are in watchd.sla and docs/api.md.
"""

from __future__ import annotations

import argparse
import sys
import time

from watchd.config.api import ApiConfig, ServiceConfig
from watchd.reports import availability as av
from watchd.reports.formats import FORMATS

_now = time.time  # the edge's clock; tests replace it


def add_parser(sub: argparse._SubParsersAction, with_config) -> None:  # type: ignore[no-untyped-def,type-arg]
    p = sub.add_parser("sla", help="SLA availability reports")
    ssub = p.add_subparsers(metavar="ACTION", required=True)
    rep = ssub.add_parser("report", help="availability, downtime, error budget and incidents for a month")
    with_config(rep)
    rep.add_argument("--month", help="YYYY-MM in the configured `timezone` (default: the current month)")
    who = rep.add_mutually_exclusive_group()
    who.add_argument("--service", help="one service (default: every service)")
    who.add_argument("--check", help="one check, as a service of its own")
    rep.add_argument("--format", choices=["text", "json", "csv", "html"], default="text")
    rep.add_argument("--output", "-o", help="write to this file instead of standard output")
    rep.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from watchd.cli.common import open_store
    from watchd.cli.locate import running_daemon

    cfg, store = open_store(args.config)
    api: ApiConfig = getattr(cfg, "api", None) or ApiConfig()
    # While the daemon runs, its run reaches now, as on its status page: both show the same figures.
    live = running_daemon(cfg.data_dir) is not None
    now = _now()
    month = args.month or av.current_month(now, api.timezone)
    try:
        start, end = av.month_period(month, api.timezone)
    except ValueError as exc:
        print(f"--month: {exc}", file=sys.stderr)
        return 1
    services: list[ServiceConfig] | None = None
    if args.service:
        known = av.services_of(api, cfg.checks)
        if args.service not in known:
            print(f"no service {args.service!r} (configured: {', '.join(known) or 'none'})", file=sys.stderr)
            return 1
        services = [known[args.service]]
    elif args.check:
        if args.check not in cfg.checks:
            print(f"no check {args.check!r}", file=sys.stderr)
            return 1
        c = cfg.checks[args.check]
        services = [ServiceConfig(args.check, c.description or args.check, (args.check,))]
    try:
        report = av.build_report(
            store.db, api, cfg.checks, cfg.incidents.priority, start, end, now, month, services,
            av.recurring_windows(lambda: cfg), live,
        )  # fmt: skip
    finally:
        store.close()
    text = FORMATS[args.format](report)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0
