"""`watchd ack`, `watchd silence`, `watchd downtime add|list|remove`: act through the state store,
which the running daemon reads (its follow-up pass picks changes up within `followup_interval`)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from collections.abc import Callable

from watchd.cli.common import open_store
from watchd.control import actions
from watchd.core import timespec
from watchd.core.timefmt import local
from watchd.store import Store


def add_parsers(sub: argparse._SubParsersAction, with_config) -> None:  # type: ignore[no-untyped-def,type-arg]
    ack = sub.add_parser("ack", help="acknowledge an incident (stops escalation, tells its tickets)")
    with_config(ack)
    ack.add_argument("incident", type=int)
    ack.add_argument("--comment", default="", type=text_arg)
    ack.add_argument("--by", default=getpass.getuser(), type=text_arg)
    ack.set_defaults(func=cmd_ack)

    sil = sub.add_parser("silence", help="no tickets or notifications for a check for a while")
    with_config(sil)
    sil.add_argument("check", type=text_arg)
    when = sil.add_mutually_exclusive_group(required=True)
    when.add_argument("--for", dest="duration", type=span_arg, help="e.g. 30m, 2h, 1d (at most 366d)")
    when.add_argument("--until", type=instant_arg, help="ISO time with offset, e.g. 2026-11-24T06:00+01:00")
    when.add_argument("--remove", type=int, metavar="ID", help="end silence ID now")
    sil.add_argument("--comment", default="", type=text_arg)
    sil.add_argument("--by", default=getpass.getuser(), type=text_arg)
    sil.set_defaults(func=cmd_silence)

    dt_p = sub.add_parser("downtime", help="one-off maintenance windows")
    dsub = dt_p.add_subparsers(metavar="ACTION", required=True)
    add = dsub.add_parser("add", help="add a window for the host, a check or a tag")
    with_config(add)
    add.add_argument("--start", required=True, type=start_arg, help="ISO time with offset, or 'now'")
    length = add.add_mutually_exclusive_group(required=True)
    length.add_argument("--end", type=instant_arg, help="ISO time with offset")
    length.add_argument("--for", dest="duration", type=span_arg, help="e.g. 2h (at most 366d)")
    add.add_argument("--check", type=text_arg, help="only this check")
    add.add_argument("--tag", type=text_arg, help="only checks with this tag")
    add.add_argument("--announce", action="store_true", help="announce it to customers")
    add.add_argument("--comment", default="", type=text_arg)
    add.add_argument("--by", default=getpass.getuser(), type=text_arg)
    add.set_defaults(func=cmd_downtime_add)
    ls = dsub.add_parser("list", help="current and upcoming windows")
    with_config(ls)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_downtime_list)
    rm = dsub.add_parser("remove", help="cancel a window (announced ones get a cancellation notice)")
    with_config(rm)
    rm.add_argument("id", type=int)
    rm.set_defaults(func=cmd_downtime_remove)


# Argument types: times and spans by watchd.core.timespec's rules (as the API and MQTT commands), so
# a bad one is argparse's exit 2 with "argument --for: ...", never a traceback or a stored row.


def span_arg(text: str) -> float:
    return _arg(timespec.span, text)


def instant_arg(text: str) -> float:
    """An ISO time with a UTC offset: at a terminal, a time without one may mean local time."""
    return _arg(lambda t: timespec.instant(t, naive_utc=False), text)


def start_arg(text: str) -> float | None:
    """An ISO time with offset, or 'now' (None)."""
    return None if text == "now" else instant_arg(text)


def text_arg(text: str) -> str:
    """Text as given; bytes that are not UTF-8 (argv carries them as lone surrogates) cannot be
    stored and are refused here."""
    try:
        text.encode()
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"not valid UTF-8 text: {text!a}") from None
    return text


def _arg(parse: Callable[[str], float], text: str) -> float:
    try:
        return float(parse(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _store(args: argparse.Namespace) -> Store:
    return open_store(args.config)[1]


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
    ends = now + args.duration if args.duration else args.until
    return _run(
        lambda: (
            f"silence #{actions.add_silence(store, args.check, now, ends, args.by, args.comment, now)}"
            f" on {args.check} until {local(ends, cfg.timezone)}"
        )
    )


def cmd_downtime_add(args: argparse.Namespace) -> int:
    cfg, store = open_store(args.config)
    now = time.time()
    start = now if args.start is None else args.start
    end = start + args.duration if args.duration else args.end
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
    # An older version stored whatever it was given: a time past year 9999 shows as 9999-12-31.
    rows = [(*r[:3], timespec.renderable(r[3]), timespec.renderable(r[4]), *r[5:]) for r in rows]
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
