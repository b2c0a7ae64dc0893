"""`watchd notify test TARGET [--medium M ...] [--json]`: send a test page through the real channels
of one person and report, medium by medium, whether it got through.

TARGET is a contact name, `rotation:NAME`, or a rotation name that is not also a contact's: a
rotation pages whoever is on duty in it now (the output says who, and until when). The page is the
"test" event of the contact's audience, sent through every medium the contact has (or only the
`--medium` ones), each through the same transport the daemon uses, but directly rather than through
the outbox: the command works while the daemon is down, and reports every outcome before it exits.

    $ watchd notify test rotation:primary
    test page to alice (Alice Example): on duty in primary [weekly] until 2026-12-07 09:00 CET
    key watchd-web01-test-1764580000, sent as P1 (quiet hours ignored)
    email      delivered  (0.3 s)
    sms        FAILED  sms gateway twilio-sms: 401 unauthorized (check the credentials): 20003: Authenticate
    pagerduty  delivered  (0.4 s)

The page is a P1 and ignores quiet hours (as every P1 does: quiet hours mute P2 and below at most), so
that a night-time test proves the path a real P1 would take; the output says so when the contact has
quiet hours. Its facts: key `watchd-<host>-test-<unix time>`, check "notify-test", state OK, summary
"Test page from watchd on <host>", no incident (so no ticket is waited for and no ack link is made).
A fresh op_id per run (the time in milliseconds) gives each run its own idempotency keys, so a
gateway does not swallow a second test as a retry; PagerDuty gets a dedup_key of its own per test
(delivery.paging.pagerduty) and the alert stays open there until someone acknowledges it.

MQTT is skipped: it goes through the daemon's broker connection, and a second client with that
client id would disconnect the running daemon. The store is not opened (an in-memory database stands
in; a test page looks nothing up), so the command never contends with the daemon for it.

Reasons are the DeliveryErrors' own texts, which the transports keep free of secrets (an unexpected
exception shows only its type). Exit 0 when every medium
tried delivered, 1 when any failed, when nobody is on duty in the rotation, or when nothing could be
tried; 2 for an unknown target or medium (the known ones are named). `--json` prints one object:
{target, contact, rotation, on_duty_until, key, priority, quiet_hours_ignored, deliveries: [{medium,
status: delivered|failed|skipped, seconds, reason}]}, times in ISO 8601 UTC.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from watchd.cli.common import load_config
from watchd.cli.maintenance import text_arg
from watchd.config.model import Config
from watchd.core.errors import DeliveryError
from watchd.core.oncall import ROTATION_PREFIX, Shift, next_shift, on_duty
from watchd.core.timefmt import local
from watchd.delivery.notify.contacts import Contact

_now = time.time  # the edge's clock; tests replace it
PRIORITY = "P1"  # wakes the person as a real P1 would
CHECK = "notify-test"
DELIVERY_TIMEOUT = 120.0  # each transport has its own (SMTP 30 s, HTTP 10 s); this bounds the rest
UNTRIED = ("mqtt",)  # media that need the running daemon's connection


class BadTarget(Exception):
    """An unknown contact, rotation or medium: exit 2."""


class NobodyOnDuty(Exception):
    """The rotation has a gap now: a page would reach nobody, exit 1."""


@dataclass(frozen=True, slots=True)
class Target:
    contact: Contact
    rotation: str | None = None
    shift: Shift | None = None  # the on-duty stretch when paged through a rotation


@dataclass(frozen=True, slots=True)
class Outcome:
    medium: str
    status: str  # delivered | failed | skipped
    seconds: float
    reason: str = ""


def add_parser(sub: argparse._SubParsersAction, with_config) -> None:  # type: ignore[no-untyped-def,type-arg]
    p = sub.add_parser("notify", help="test the notification channels")
    verbs = p.add_subparsers(metavar="ACTION")
    t = verbs.add_parser("test", help="send a test page to a contact, or to whoever is on duty in a rotation")
    with_config(t)
    t.add_argument("target", metavar="TARGET", type=text_arg, help="a contact, or rotation:NAME")
    t.add_argument(
        "--medium", action="append", default=[], type=text_arg, metavar="M",
        help="only this medium (email, webhook, sms, voice, pagerduty, opsgenie, apprise); repeatable",
    )  # fmt: skip
    t.add_argument("--json", action="store_true", help="one JSON object")
    t.set_defaults(func=cmd_test)


def cmd_test(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    at = _now()
    try:
        target = resolve_target(cfg, args.target, at)
        media = chosen_media(target.contact, args.medium)
    except BadTarget as exc:
        print(f"watchd: {exc}", file=sys.stderr)
        return 2
    except NobodyOnDuty as exc:
        print(f"watchd: {exc}", file=sys.stderr)
        return 1
    facts = test_facts(cfg, at)
    outcomes = asyncio.run(run_test(cfg, target, media, at))
    quiet = bool(target.contact.quiet_hours)
    if args.json:
        print(json.dumps(_document(args.target, target, facts, quiet, outcomes)))
    else:
        for line in _lines(cfg, target, facts, quiet, outcomes):
            print(line)
    return exit_code(outcomes)


def exit_code(outcomes: Sequence[Outcome]) -> int:
    tried = [o for o in outcomes if o.status != "skipped"]
    return 0 if tried and all(o.status == "delivered" for o in tried) else 1


def resolve_target(cfg: Config, text: str, at: float) -> Target:
    """The contact TARGET names; a rotation's member on duty at `at`."""
    rotations = cfg.oncall.rotations
    name = text.removeprefix(ROTATION_PREFIX)
    if not text.startswith(ROTATION_PREFIX):
        if text in cfg.contacts:
            return Target(cfg.contacts[text])
        if text not in rotations:
            raise BadTarget(f"no contact or rotation {text!r} ({_known(cfg)})")
    elif name not in rotations:
        raise BadTarget(f"no rotation {name!r} ({_known(cfg)})")
    shift = on_duty(rotations[name], at)
    if shift is None:
        following = next_shift(rotations[name], at)
        then = f"; next: {following.member} from {local(following.start, cfg.timezone)}" if following else ""
        raise NobodyOnDuty(f"nobody is on duty in rotation {name!r} now{then}")
    return Target(cfg.contacts[shift.member], name, shift)


def chosen_media(contact: Contact, wanted: Sequence[str]) -> tuple[str, ...]:
    unknown = [m for m in wanted if m not in contact.media]
    if unknown:
        raise BadTarget(
            f"{contact.name} has no medium {unknown[0]!r} (media: {', '.join(contact.media) or 'none'})"
        )
    return tuple(m for m in contact.media if not wanted or m in wanted)


def test_facts(cfg: Config, at: float) -> dict[str, Any]:
    return {
        "key": f"watchd-{cfg.host}-test-{int(at)}",
        "host": cfg.host,
        "check": CHECK,
        "description": "notification test",
        "state": "OK",
        "summary": f"Test page from watchd on {cfg.host}",
        "priority": PRIORITY,
        "impact": "",
        "urgency": "",
        "opened_at": at,
        "at": at,
        "why": "watchd notify test",
    }


async def run_test(
    cfg: Config, target: Target, media: Sequence[str] | None = None, at: float | None = None
) -> list[Outcome]:
    """Send the test page through `media` (default: all) of the target's contact, at once; one
    Outcome per medium, in the contact's order. Every transport is closed before it returns."""
    from watchd.daemon.channels import contact_transports
    from watchd.delivery.notify.channel import NotifyChannel

    at = _now() if at is None else at
    contact = target.contact
    wanted = contact.media if media is None else tuple(media)
    transports = contact_transports(cfg, contact)
    # A test page looks up no ticket (incident 0): an in-memory database keeps the store untouched.
    db = sqlite3.connect(":memory:")
    channels = {m: NotifyChannel(contact, t, db, 0.0, lambda: at) for m, t in transports.items()}
    payload = {"facts": test_facts(cfg, at), "incident_id": 0, "queued_at": at}
    op_id = int(at * 1000)  # fresh per run: new idempotency keys; far above any outbox row id

    async def one(medium: str) -> Outcome:
        if medium in UNTRIED:
            return Outcome(medium, "skipped", 0.0, "needs the running daemon's MQTT connection")
        began = time.monotonic()
        reason: str | None = None
        try:
            sending = channels[medium].deliver_row("test", payload, op_id, None)
            await asyncio.wait_for(sending, DELIVERY_TIMEOUT)
        except DeliveryError as exc:
            reason = exc.reason
        except TimeoutError:
            reason = f"no answer in {DELIVERY_TIMEOUT:.0f} s"
        except Exception as exc:  # only the type: an unexpected error's text may hold a URL with a key
            reason = f"unexpected {type(exc).__name__}"
        took = time.monotonic() - began
        if reason is None:
            return Outcome(medium, "delivered", took)
        return Outcome(medium, "failed", took, reason)

    try:
        return list(await asyncio.gather(*(one(m) for m in wanted)))
    finally:
        for channel in channels.values():
            await channel.close()
        db.close()


def _known(cfg: Config) -> str:
    contacts = ", ".join(cfg.contacts) or "none"
    rotations = ", ".join(cfg.oncall.rotations) or "none"
    return f"contacts: {contacts}; rotations: {rotations}"


def _who(target: Target) -> str:
    c = target.contact
    return f"{c.name} ({c.display_name})" if c.display_name else c.name


def _lines(
    cfg: Config, target: Target, facts: dict[str, Any], quiet: bool, outcomes: Sequence[Outcome]
) -> list[str]:
    head = f"test page to {_who(target)}"
    if target.shift is not None:
        s = target.shift
        until = "until further notice" if math.isinf(s.end) else f"until {local(s.end, cfg.timezone)}"
        head += f": on duty in {target.rotation} [{s.layer}] {until}"
    lines = [head, f"key {facts['key']}, sent as {PRIORITY}" + (" (quiet hours ignored)" if quiet else "")]
    width = max((len(o.medium) for o in outcomes), default=0)
    for o in outcomes:
        if o.status == "delivered":
            lines.append(f"{o.medium:<{width}}  delivered  ({o.seconds:.1f} s)")
        else:
            lines.append(f"{o.medium:<{width}}  {o.status.upper()}  {o.reason}")
    return lines


def _document(
    text: str, target: Target, facts: dict[str, Any], quiet: bool, outcomes: Sequence[Outcome]
) -> dict[str, Any]:
    until = None
    if target.shift is not None and not math.isinf(target.shift.end):
        until = dt.datetime.fromtimestamp(target.shift.end, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "target": text,
        "contact": target.contact.name,
        "rotation": target.rotation,
        "on_duty_until": until,
        "key": facts["key"],
        "priority": PRIORITY,
        "quiet_hours_ignored": quiet,
        "deliveries": [asdict(o) | {"seconds": round(o.seconds, 3)} for o in outcomes],
    }
