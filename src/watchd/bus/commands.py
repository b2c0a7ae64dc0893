"""Signed commands in: `<prefix><host>/command/<verb>` with verb run, ack, silence or downtime.

A command message is JSON with the signed text and its signature:

    {"body": "<JSON text>", "sig": "<hex HMAC-SHA256 of the body's UTF-8 bytes, keyed with the secret>"}
    body: {"schema": "watchd.command/v1", "host": "web-1", "command": "ack", "ts": 1700000000.5,
           "nonce": "5f0c...", "args": {"incident": 42, "by": "alice", "comment": "on it"}}

The signature covers the exact bytes, so nothing has to be re-serialised to check it. The body names the
host and the verb, so a command signed for one host or verb cannot be replayed to another; `ts` must be
within `max_age` of now (either way) and a nonce is accepted once (the replay cache remembers each nonce
until its command would be too old anyway). Checked in this order; the first failure is the refusal:
malformed, unsigned, bad signature, wrong target, stale/future, replayed, unknown command, bad args.

`verify` is pure (now and the cache are passed in); `CommandDispatcher` calls the `CommandHandler`.
`sign` (and `python -m watchd.bus.commands`) makes a command, for tools and tests.
"""

from __future__ import annotations

import argparse
import collections
import enum
import hashlib
import hmac
import json
import math
import secrets
import sys
import time
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from watchd.bus.payloads import parse_json, schema
from watchd.core import timespec

log = structlog.get_logger("watchd.bus.commands")

VERBS = ("run", "ack", "silence", "downtime")
_ARGS = {
    "run": {"check"},
    "ack": {"incident", "by", "comment"},
    "silence": {"check", "until", "for", "comment", "by"},
    "downtime": {"scope", "target", "start", "until", "for", "comment", "by"},
}
DOWNTIME_SCOPES = ("host", "check", "tag")
MAX_PAYLOAD = 16 * 1024


class CommandHandler(Protocol):
    """What commands do; the daemon implements it (scheduler, incident store, silences)."""

    # Each returns True when done, False or the reason (a str) when refused.

    async def run_now(self, check: str) -> bool | str: ...

    async def ack(self, incident_id: int, by: str, comment: str) -> bool | str: ...

    async def silence(self, check: str, until: float, comment: str, by: str = "mqtt") -> bool | str: ...

    async def downtime(
        self, scope: str, target: str, start: float, until: float, comment: str, by: str
    ) -> bool | str: ...


class Refusal(enum.Enum):
    MALFORMED = "malformed"
    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad signature"
    WRONG_TARGET = "wrong target"
    STALE = "stale"
    FUTURE = "timestamp in the future"
    REPLAYED = "replayed"
    REPLAY_CACHE_FULL = "replay cache full"
    UNKNOWN_COMMAND = "unknown command"
    BAD_ARGS = "bad arguments"


@dataclass(frozen=True, slots=True)
class Run:
    check: str


@dataclass(frozen=True, slots=True)
class Ack:
    incident: int
    by: str
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Silence:
    check: str
    until: float
    comment: str = ""
    by: str = "mqtt"


@dataclass(frozen=True, slots=True)
class Downtime:
    scope: str  # host, check or tag
    target: str  # "" for the whole host
    start: float
    until: float
    comment: str = ""
    by: str = "mqtt"


Command = Run | Ack | Silence | Downtime


@dataclass(frozen=True, slots=True)
class Verified:
    command: Command
    nonce: str


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Refusal
    detail: str = ""
    nonce: str | None = None


class ReplayCache:
    """Nonces seen, each kept until `expires` (after which its command is stale anyway). Bounded: when
    full of unexpired nonces a new command is refused rather than an old nonce forgotten early."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._seen: collections.OrderedDict[str, float] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, nonce: str) -> bool:
        return nonce in self._seen

    def prune(self, now: float) -> None:
        # Insertion order is roughly expiry order; stopping at the first live one may keep a few
        # expired entries a little longer, which is the safe direction.
        while self._seen:
            nonce, expires = next(iter(self._seen.items()))
            if expires > now:
                break
            del self._seen[nonce]

    def add(self, nonce: str, expires: float, now: float) -> bool:
        self.prune(now)
        if len(self._seen) >= self.max_entries:
            return False
        self._seen[nonce] = expires
        return True


def signature(secret: bytes, body: str) -> str:
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()


def sign(
    secret: bytes,
    host: str,
    verb: str,
    args: dict[str, Any],
    ts: float,
    nonce: str | None = None,
) -> bytes:
    """A command message for `host` (the payload to publish on its `command/<verb>` topic)."""
    body = json.dumps(
        {
            "schema": schema("command"),
            "host": host,
            "command": verb,
            "ts": ts,
            "nonce": nonce or secrets.token_hex(16),
            "args": args,
        },
        separators=(",", ":"),
    )
    return json.dumps({"body": body, "sig": signature(secret, body)}).encode()


def verify(
    payload: bytes,
    *,
    secret: bytes,
    host: str,
    verb: str,
    now: float,
    max_age: float,
    cache: ReplayCache,
) -> Verified | Refused:
    if len(payload) > MAX_PAYLOAD:
        return Refused(Refusal.MALFORMED, "too large")
    try:
        outer = parse_json(payload)
    except ValueError:
        return Refused(Refusal.MALFORMED, "not JSON")
    if not isinstance(outer, dict):
        return Refused(Refusal.MALFORMED, "not a JSON object")
    body, sig = outer.get("body"), outer.get("sig")
    if not isinstance(sig, str) or not sig:
        return Refused(Refusal.UNSIGNED)
    if not isinstance(body, str):
        return Refused(Refusal.MALFORMED, "body must be a string (the signed JSON text)")
    try:
        body.encode()
    except UnicodeEncodeError:  # a \udc80 escape in the message: no bytes were signed
        return Refused(Refusal.MALFORMED, "body is not valid Unicode text")
    if not sig.isascii() or not hmac.compare_digest(signature(secret, body), sig.strip().lower()):
        return Refused(Refusal.BAD_SIGNATURE)  # compare_digest refuses non-ASCII text with TypeError
    try:
        doc = parse_json(body)
    except ValueError:
        return Refused(Refusal.MALFORMED, "body is not JSON")
    if not isinstance(doc, dict) or doc.get("schema") != schema("command"):
        return Refused(Refusal.MALFORMED, f"schema must be {schema('command')}")
    nonce = doc.get("nonce")
    if not isinstance(nonce, str) or not 8 <= len(nonce) <= 128:
        return Refused(Refusal.MALFORMED, "nonce must be a string of 8 to 128 characters")
    if doc.get("host") != host or doc.get("command") != verb:
        return Refused(Refusal.WRONG_TARGET, f"signed for {doc.get('host')}/{doc.get('command')}", nonce)
    ts = doc.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not _finite(ts):
        return Refused(Refusal.MALFORMED, "ts must be a number (UTC epoch seconds)", nonce)
    if now - ts > max_age:
        return Refused(Refusal.STALE, f"{now - ts:.0f}s old (max {max_age:g}s)", nonce)
    if ts - now > max_age:
        return Refused(Refusal.FUTURE, f"{ts - now:.0f}s ahead (max {max_age:g}s)", nonce)
    if nonce in cache:
        return Refused(Refusal.REPLAYED, "", nonce)
    if not cache.add(nonce, ts + max_age, now):
        return Refused(Refusal.REPLAY_CACHE_FULL, "", nonce)
    if verb not in VERBS:
        return Refused(Refusal.UNKNOWN_COMMAND, verb, nonce)
    args = doc.get("args", {})
    try:
        command = parse_args(verb, args if isinstance(args, dict) else None, now)
    except ValueError as exc:
        return Refused(Refusal.BAD_ARGS, str(exc), nonce)
    return Verified(command, nonce)


def _finite(x: float) -> bool:
    try:
        return math.isfinite(x)
    except OverflowError:  # an integer beyond any float: JSON allows it
        return False


def parse_args(verb: str, args: dict[str, Any] | None, now: float) -> Command:
    if args is None:
        raise ValueError("args must be an object")
    unknown = set(args) - _ARGS[verb]
    if unknown:
        raise ValueError(f"unknown argument(s): {', '.join(sorted(unknown))}")
    comment = _text(args, "comment", required=False)
    if verb == "run":
        return Run(_text(args, "check"))
    if verb == "ack":
        incident = args.get("incident")
        if isinstance(incident, str) and incident.isdigit():
            incident = int(incident)
        if isinstance(incident, bool) or not isinstance(incident, int) or not 1 <= incident < 2**63:
            raise ValueError("incident must be a positive incident id")  # 2**63: SQLite's integers
        return Ack(incident, _text(args, "by"), comment)
    by = _text(args, "by", required=False) or "mqtt"
    if verb == "downtime":
        scope = args.get("scope", "host")
        if scope not in DOWNTIME_SCOPES:
            raise ValueError(f"scope must be one of {', '.join(DOWNTIME_SCOPES)}")
        target = _text(args, "target", required=scope != "host") if scope != "host" else ""
        start = now
        if "start" in args:
            try:
                start = timespec.instant(args["start"], naive_utc=False)
            except ValueError as exc:
                raise ValueError(f"start: {exc}") from None
        return Downtime(scope, target, start, _until(args, start), comment, by)
    return Silence(_text(args, "check"), _until(args, now), comment, by)


def _until(args: dict[str, Any], now: float) -> float:
    """`until` (a time) or `for` (a duration from `now`), within 366 days."""
    if ("until" in args) == ("for" in args):
        raise ValueError("give exactly one of until (time) or for (duration)")
    key = "until" if "until" in args else "for"
    try:
        if key == "until":
            until = timespec.instant(args[key], naive_utc=False)  # a person may mean local time
        else:
            until = now + timespec.span(args[key])
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None
    if until <= now:
        raise ValueError("until is in the past")
    if until - now > timespec.MAX_SPAN:
        raise ValueError("until: at most 366 days ahead")
    return until


def _text(args: dict[str, Any], key: str, required: bool = True) -> str:
    value = args.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > 1000:
        raise ValueError(f"{key} must be a non-empty string")
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate (\\ud800) in the JSON: it cannot be stored
        raise ValueError(f"{key} must be valid Unicode text") from None
    return value.strip()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one command; published on `command_result`."""

    verb: str
    ok: bool
    reason: str
    nonce: str | None = None


class CommandDispatcher:
    """Verifies a command and calls the handler. Never raises."""

    LOG_BURST = 20  # refusal log lines per minute, then one summary: forged traffic cannot flood the log

    def __init__(
        self, host: str, secret: bytes, handler: CommandHandler, max_age: float, cache_size: int = 10_000
    ) -> None:
        self.host = host
        self.secret = secret
        self.handler = handler
        self.max_age = max_age
        self.cache = ReplayCache(cache_size)
        self.refused: collections.Counter[str] = collections.Counter()
        self.dispatched = 0
        self._log_window = (0.0, 0)  # (minute start, refusals logged in it)

    async def handle(self, verb: str, payload: bytes, now: float) -> Outcome:
        v = verify(
            payload, secret=self.secret, host=self.host, verb=verb, now=now,
            max_age=self.max_age, cache=self.cache,
        )  # fmt: skip
        if isinstance(v, Refused):
            self.refused[v.reason.value] += 1
            self._log_refusal(verb, v, now)
            text = v.reason.value + (f": {v.detail}" if v.detail else "")
            return Outcome(verb, False, text, v.nonce)
        self.dispatched += 1
        cmd = v.command
        try:
            if isinstance(cmd, Run):
                ok = await self.handler.run_now(cmd.check)
            elif isinstance(cmd, Ack):
                ok = await self.handler.ack(cmd.incident, cmd.by, cmd.comment)
            elif isinstance(cmd, Silence):
                ok = await self.handler.silence(cmd.check, cmd.until, cmd.comment, cmd.by)
            else:
                ok = await self.handler.downtime(
                    cmd.scope, cmd.target, cmd.start, cmd.until, cmd.comment, cmd.by
                )
        except Exception as exc:
            log.exception("command handler failed", command=verb, nonce=v.nonce)
            return Outcome(verb, False, f"failed: {exc!r}", v.nonce)
        log.info("command", command=verb, ok=ok is True, nonce=v.nonce, args=_describe(cmd))
        if isinstance(ok, str):  # the handler's reason for refusing, e.g. "incident #4 is resolved"
            return Outcome(verb, False, ok, v.nonce)
        return Outcome(verb, bool(ok), "done" if ok else "refused by the daemon", v.nonce)

    def _log_refusal(self, verb: str, refused: Refused, now: float) -> None:
        start, count = self._log_window
        if now - start >= 60:
            if count > self.LOG_BURST:
                log.warning("commands refused (not all logged)", count=count, window_s=60)
            start, count = now, 0
        count += 1
        self._log_window = (start, count)
        if count <= self.LOG_BURST:
            log.warning(
                "command refused", command=verb, reason=refused.reason.value, detail=refused.detail,
                nonce=refused.nonce,
            )  # fmt: skip


def _describe(cmd: Command) -> dict[str, object]:
    if isinstance(cmd, Run):
        return {"check": cmd.check}
    if isinstance(cmd, Ack):
        return {"incident": cmd.incident, "by": cmd.by}
    if isinstance(cmd, Silence):
        return {"check": cmd.check, "until": cmd.until, "by": cmd.by}
    return {"scope": cmd.scope, "target": cmd.target, "start": cmd.start, "until": cmd.until, "by": cmd.by}


def main(argv: list[str] | None = None) -> int:
    """Print a signed command, e.g. for mosquitto_pub:

    python -m watchd.bus.commands --secret-file k web-1 ack incident=42 by=alice |
        mosquitto_pub -t watchd/web-1/command/ack -s
    """
    p = argparse.ArgumentParser(prog="python -m watchd.bus.commands", description=main.__doc__)
    p.add_argument("--secret-file", required=True)
    p.add_argument("host")
    p.add_argument("verb", choices=VERBS)
    p.add_argument("args", nargs="*", help="key=value (incident=42, check=load, for=2h, comment=...)")
    a = p.parse_args(argv)
    try:
        with open(a.secret_file, "rb") as f:
            secret = f.read().strip()
    except OSError as exc:
        p.error(f"--secret-file: {exc.strerror}: {a.secret_file}")
    args: dict[str, Any] = {}
    for item in a.args:
        key, _, value = item.partition("=")
        # isdigit() is also true for "²", which int() refuses: ASCII digits, within 64 bits
        digits = value.isascii() and value.isdigit() and len(value) <= 18
        args[key] = int(value) if key == "incident" and digits else value
    sys.stdout.write(sign(secret, a.host, a.verb, args, time.time()).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
