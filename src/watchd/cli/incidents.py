"""`watchd incidents list|show|ack|resolve`: read and act on incidents in the state store.

Writes go straight into the store, in one transaction with the outbox rows that tell the ticket
systems; the running daemon's deliverer picks them up within a few seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
import time

from watchd.cli.common import open_store
from watchd.cli.maintenance import text_arg
from watchd.control import actions
from watchd.core.timefmt import local
from watchd.store import Store
from watchd.store import incidents as incident_store

BY_AGREEMENT = "by agreement"  # a deadline that has no target


def add_parser(sub: argparse._SubParsersAction, with_config) -> None:  # type: ignore[no-untyped-def,type-arg]
    p = sub.add_parser("incidents", help="list, show, acknowledge and resolve incidents")
    isub = p.add_subparsers(metavar="ACTION", required=True)
    ls = isub.add_parser("list", help="incidents, newest first")
    with_config(ls)
    ls.add_argument("--status", choices=["open", "resolved", "all"], default="open")
    ls.add_argument("--priority", choices=["P1", "P2", "P3", "P4"])
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    show = isub.add_parser("show", help="one incident with its timeline and deliveries")
    with_config(show)
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)
    for name, func, text in (
        ("ack", cmd_ack, "acknowledge: stops escalation, tells the ticket systems"),
        ("resolve", cmd_resolve, "resolve by hand (a problem that persists opens a new incident)"),
    ):
        sp = isub.add_parser(name, help=text)
        with_config(sp)
        sp.add_argument("id", type=int)
        sp.add_argument("--by", default=getpass.getuser(), type=text_arg)
        sp.add_argument("--comment", default="", type=text_arg)
        sp.set_defaults(func=func)


def _store(args: argparse.Namespace) -> Store:
    return open_store(args.config)[1]


def cmd_list(args: argparse.Namespace) -> int:
    cfg, store = open_store(args.config)
    zone = cfg.timezone
    status = None if args.status == "all" else args.status
    rows = incident_store.query(store.db, status=status, priority=args.priority, limit=500)
    if args.json:
        print(json.dumps([_as_dict(i) for i in rows]))
        return 0
    for i in rows:
        ack = f"acked by {i.acked_by}" if i.acked_at else ""
        print(
            f"#{i.id:<5} {i.status.value:<8} {i.priority} {i.check:<24} {i.state.name:<8} "
            f"opened {local(i.opened_at, zone)}  respond by {local(i.respond_by, zone, BY_AGREEMENT)}  {ack}"
        )
    if not rows:
        print("no incidents", file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    cfg, store = open_store(args.config)
    zone = cfg.timezone
    inc = incident_store.get(store.db, args.id) if actions.valid_id(args.id) else None
    if inc is None:
        print(f"no incident #{args.id}", file=sys.stderr)
        return 1
    events = incident_store.events(store.db, inc.id)
    deliveries = store.db.execute(
        "SELECT o.id, o.channel, o.kind, o.status, o.attempts, o.last_error, r.ref FROM outbox o"
        " LEFT JOIN ticket_refs r ON r.incident_id = o.incident_id AND r.channel = o.channel"
        " WHERE o.incident_id = ? ORDER BY o.id",
        (inc.id,),
    ).fetchall()
    if args.json:
        data = _as_dict(inc)
        data["events"] = [dataclasses.asdict(e) | {"state": e.state.name} for e in events]
        data["deliveries"] = [
            dict(zip(("row", "channel", "kind", "status", "attempts", "error", "ticket"), d, strict=True))
            for d in deliveries
        ]
        print(json.dumps(data))
        return 0
    print(f"Incident #{inc.id} ({inc.key}): {inc.status.value}, {inc.priority}")
    print(f"  {inc.host}/{inc.check} {inc.state.name}: {inc.summary}")
    print(
        f"  opened {local(inc.opened_at, zone)}, respond by {local(inc.respond_by, zone, BY_AGREEMENT)},"
        f" resolve by {local(inc.resolve_by, zone, BY_AGREEMENT)}"
    )
    if inc.acked_at:
        print(f"  acknowledged by {inc.acked_by} at {local(inc.acked_at, zone)}")
    for e in events:
        print(f"  {local(e.at, zone)}  {e.action:<8} {e.priority} {e.state.name:<8} {e.text}")
    for row, channel, kind, status, attempts, error, ref in deliveries:
        where = f"ticket {ref or '-'}"
        print(f"  delivery #{row} {channel} {kind}: {status} (attempts {attempts}) {where} {error or ''}")
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    return _act(actions.ack, args, "acknowledged")


def cmd_resolve(args: argparse.Namespace) -> int:
    return _act(actions.resolve, args, "resolved")


def _act(action, args: argparse.Namespace, done: str) -> int:  # type: ignore[no-untyped-def]
    try:
        action(_store(args), args.id, args.by, args.comment, time.time())
    except actions.ActionError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"incident #{args.id} {done}")
    return 0


def _as_dict(i) -> dict[str, object]:  # type: ignore[no-untyped-def]
    d = dataclasses.asdict(i)
    d.update(status=i.status.value, state=i.state.name, key=i.key)
    return d
