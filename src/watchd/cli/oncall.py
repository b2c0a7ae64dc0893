"""`watchd oncall [--at T] [--rotation NAME] [--json]`: who is on duty in each rotation, until when, and
who comes next, from the configuration alone (no state store, no running daemon needed).

Times are shown in the display zone (top-level `timezone`); `--json` gives ISO 8601 UTC, an `end` of
null being "until further notice" (no hand-off within a year). Exit 0, also when nobody is on duty;
exit 1 when no rotation is configured or `--rotation` names none.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
from typing import Any

from watchd.cli.common import load_config
from watchd.cli.maintenance import start_arg, text_arg
from watchd.config.model import Config
from watchd.core.oncall import Shift, next_shift, on_duty
from watchd.core.timefmt import described, local

_now = time.time  # the edge's clock; tests replace it


def add_parser(sub: argparse._SubParsersAction, with_config) -> None:  # type: ignore[no-untyped-def,type-arg]
    p = sub.add_parser("oncall", help="who is on duty in each rotation now (or at a time), and who is next")
    with_config(p)
    p.add_argument(
        "--at", type=start_arg, help="ISO time with offset, e.g. 2026-12-24T20:00+01:00 (default: now)"
    )
    p.add_argument("--rotation", type=text_arg, help="only this rotation")
    p.add_argument("--json", action="store_true", help="one JSON object, times in ISO 8601 UTC")
    p.set_defaults(func=cmd_oncall)


def cmd_oncall(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    rotations = cfg.oncall.rotations
    if not rotations:
        print(f"no on-call rotations configured (oncall.rotations in {cfg.files[0]})", file=sys.stderr)
        return 1
    names = list(rotations)  # in config order: primary before secondary, as people write them
    if args.rotation is not None:
        if args.rotation not in rotations:
            print(f"no rotation {args.rotation!r} (configured: {', '.join(names)})", file=sys.stderr)
            return 1
        names = [args.rotation]
    at = _now() if args.at is None else args.at
    found = [(name, on_duty(rotations[name], at), next_shift(rotations[name], at)) for name in names]
    if args.json:
        doc = {
            "at": _iso(at),
            "rotations": [{"rotation": n, "on_duty": _shift(c), "next": _shift(x)} for n, c, x in found],
        }
        print(json.dumps(doc))
        return 0
    zone = cfg.timezone
    print(f"on call at {local(at, zone)} (times in {described(zone)})")
    for name, current, following in found:
        print(f"{name}:")
        for line in _lines(cfg, current, following):
            print(f"  {line}")
    return 0


def _lines(cfg: Config, current: Shift | None, following: Shift | None) -> list[str]:
    zone = cfg.timezone
    out = []
    if current is None:
        out.append("nobody on duty" + (f" until {local(following.start, zone)}" if following else ""))
    else:
        out.append(f"{_who(cfg, current)} since {local(current.start, zone)} {_until(current, zone)}")
    if following is None:
        if current is None or not math.isinf(current.end):
            out.append("next: nobody within a year")
        return out
    if current is not None and following.start > current.end:
        out.append(f"then nobody from {local(current.end, zone)} until {local(following.start, zone)}")
    out.append(f"next: {_who(cfg, following)} from {local(following.start, zone)} {_until(following, zone)}")
    return out


def _who(cfg: Config, shift: Shift) -> str:
    contact = cfg.contacts.get(shift.member)
    name = f"{shift.member} ({contact.display_name})" if contact and contact.display_name else shift.member
    return f"{name} [{shift.layer}]"


def _until(shift: Shift, zone: str) -> str:
    return "until further notice" if math.isinf(shift.end) else f"until {local(shift.end, zone)}"


def _shift(shift: Shift | None) -> dict[str, Any] | None:
    if shift is None:
        return None
    return {"member": shift.member, "layer": shift.layer, "start": _iso(shift.start), "end": _iso(shift.end)}


def _iso(t: float) -> str | None:
    if math.isinf(t):
        return None
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
