"""`watchd ack`, `watchd silence`, `watchd downtime add|list|remove`: act through the state store,
which the running daemon reads (its follow-up pass picks changes up within `followup_interval`)."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys
import time

from watchd.cli.common import open_store
from watchd.configkit import reader
from watchd.control import actions
from watchd.core.timefmt import local
from watchd.store import Store


def add_parsers(sub: argparse._SubParsersAction, with_config) -> None:  # type: ignore[no-untyped-def,type-arg]
    ack = sub.add_parser("ack", help="acknowledge an incident (stops escalation, tells its tickets)")
    with_config(ack)
    ack.add_argument("incident", type=int)
    ack.add_argument("--comment", default="")
    ack.add_argument("--by", default=getpass.getuser())
    ack.set_defaults(func=cmd_ack)

    sil = sub.add_parser("silence", help="no tickets or notifications for a check for a while")
    with_config(sil)
    sil.add_argument("check")
    when = sil.add_mutually_exclusive_group(required=True)
    when.add_argument("--for", dest="duration", type=_duration_arg, help="e.g. 30m, 2h, 1d")
    when.add_argument("--until", help="ISO time, e.g. 2026-11-24T06:00+01:00")
    when.add_argument("--remove", type=int, metavar="ID", help="end silence ID now")
    sil.add_argument("--comment", default="")
    sil.add_argument("--by", default=getpass.getuser())
    sil.set_defaults(func=cmd_silence)

    dt_p = sub.add_parser("downtime", help="one-off maintenance windows")
    dsub = dt_p.add_subparsers(metavar="ACTION", required=True)
    add = dsub.add_parser("add", help="add a window for the host, a check or a tag")
    with_config(add)
    add.add_argument("--start", required=True, help="ISO time with offset, or 'now'")
    length = add.add_mutually_exclusive_group(required=True)
    length.add_argument("--end", help="ISO time with offset")
    length.add_argument("--for", dest="duration", type=_duration_arg, help="e.g. 2h")
    add.add_argument("--check", help="only this check")
    add.add_argument("--tag", help="only checks with this tag")
    add.add_argument("--announce", action="store_true", help="announce it to customers")
    add.add_argument("--comment", default="")
    add.add_argument("--by", default=getpass.getuser())
    add.set_defaults(func=cmd_downtime_add)
    ls = dsub.add_parser("list", help="current and upcoming windows")
    with_config(ls)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_downtime_list)
    rm = dsub.add_parser("remove", help="cancel a window (announced ones get a cancellation notice)")
    with_config(rm)
    rm.add_argument("id", type=int)
    rm.set_defaults(func=cmd_downtime_remove)


def _duration_arg(text: str) -> float:
    try:
        return reader.duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _store(args: argparse.Namespace) -> Store:
    return open_store(args.config)[1]


def _time(text: str, now: float) -> float:
    if text == "now":
        return now
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"watchd: not an ISO time: {text!r}") from None
    if t.tzinfo is None:
        raise SystemExit(f"watchd: give a UTC offset or Z in {text!r}, times are ambiguous otherwise")
    return t.timestamp()


def _run(fn) -> int:  # type: ignore[no-untyped-def]
    try:
        print(fn())
    except actions.ActionError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    store = _store(args)

    def ack() -> str:
        inc = actions.ack(store, args.incident, args.by, args.comment, time.time())
        return f"incident #{inc.id} acknowledged"

    return _run(ack)


def cmd_silence(args: argparse.Namespace) -> int:
    cfg, store = open_store(args.config)
    now = time.time()
    if args.remove is None and (
        problem := actions.target_problem(cfg, "check", args.check, store.load_statuses())
    ):
        print(problem[1], file=sys.stderr)
        return 1
    if args.remove is not None:

        def remove() -> str:
            actions.remove_silence(store, args.remove, now)
            return f"silence #{args.remove} ended"

        return _run(remove)
    ends = now + args.duration if args.duration else _time(args.until, now)
    return _run(
        lambda: (
            f"silence #{actions.add_silence(store, args.check, now, ends, args.by, args.comment, now)}"
            f" on {args.check} until {local(ends, cfg.timezone)}"
        )
    )


def cmd_downtime_add(args: argparse.Namespace) -> int:
    cfg, store = open_store(args.config)
    now = time.time()
    start = _time(args.start, now)
    end = start + args.duration if args.duration else _time(args.end, now)
    scope, target = ("check", args.check) if args.check else ("tag", args.tag) if args.tag else ("host", "")
    if problem := actions.target_problem(cfg, scope, target, store.load_statuses()):
        print(problem[1], file=sys.stderr)
        return 1

    def add() -> str:
        i = actions.add_downtime(store, scope, target, start, end, args.by, args.comment, args.announce, now)
        return f"downtime #{i} from {local(start, cfg.timezone)} to {local(end, cfg.timezone)}"

    return _run(add)


def cmd_downtime_list(args: argparse.Namespace) -> int:
    cfg, store = open_store(args.config)
    rows = store.db.execute(
        "SELECT id, scope, target, starts_at, ends_at, announce, comment, created_by FROM downtimes"
        " WHERE removed_at IS NULL AND ends_at > ? ORDER BY starts_at",
        (time.time(),),
    ).fetchall()
    keys = ("id", "scope", "target", "starts_at", "ends_at", "announce", "comment", "created_by")
    if args.json:
        print(json.dumps([dict(zip(keys, r, strict=True)) for r in rows]))
        return 0
    for i, scope, target, s, e, announce, comment, by in rows:
        what = "host" if scope == "host" else f"{scope} {target}"
        span = f"{local(s, cfg.timezone)} - {local(e, cfg.timezone)}"
        print(f"#{i:<4} {span}  {what:<20} {'announced ' if announce else ''}{comment} ({by})")
    return 0


def cmd_downtime_remove(args: argparse.Namespace) -> int:
    store = _store(args)

    def remove() -> str:
        actions.remove_downtime(store, args.id, time.time())
        return f"downtime #{args.id} removed"

    return _run(remove)
