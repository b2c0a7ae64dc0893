"""The `oncall` section: rotations, paging policies, which policy pages for which priority, ack links.

```yaml
oncall:
  public_url: https://watchd.example.net   # base of ack links (behind a reverse proxy)
  ack_ttl: 24h                             # how long an ack link works
  token_key_file: /etc/watchd/ack.key      # or token_key_env: the secret that signs ack links
  rotations:
    primary:
      layers:
        - name: weekly
          members: [alice, bob, carol]     # contacts, in order
          length: weekly                   # daily | weekly | Nd | Nw (calendar) | a duration like 12h
          handoff: "09:00"                 # wall time in `timezone` (daily, weekly, Nd, Nw only)
          timezone: Europe/Berlin          # default: the top-level `timezone`
          start: 2026-11-30                # a date (with handoff) or a local datetime "2026-11-30 09:00"
          restrict: [{days: mon-fri, start: "08:00", end: "18:00"}]   # end <= start: past midnight
      overrides:
        - {member: dave, start: "2026-12-24 18:00", end: "2026-12-27 09:00", timezone: Europe/Berlin}
  policies:
    standard:
      repeat: 1                            # run the chain once more if nobody acknowledges
      levels:
        - {after: 0, page: [rotation:primary]}
        - {after: 10m, page: [rotation:secondary]}
        - {at: response, page: [lead]}     # at the priority's SLA response deadline (+ after)
  escalation: {P1: standard, P2: standard}
```
Times without a UTC offset are wall times in the layer's (override's) zone, read as
watchd.core.oncall says (fold=0). Write times in quotes: YAML 1.1 reads an unquoted 18:00 as the
number 1080.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from watchd.configkit import reader as r
from watchd.configkit.secrets import read_secret
from watchd.core import timespec
from watchd.core.oncall import (
    OVERRIDE,
    ROTATION_PREFIX,
    Layer,
    Override,
    PageLevel,
    PagingPolicy,
    Restriction,
    Rotation,
)
from watchd.core.priority import PRIORITIES

MIN_KEY_BYTES = 32  # an HMAC key shorter than this is guessable; `openssl rand -base64 32` gives 44
MIN_LENGTH = 3600.0  # shortest fixed layer length (PagerDuty's too): shorter is a typo, not a rotation
DEADLINES = ("response", "resolution")
T = TypeVar("T")
_CALENDAR = re.compile(r"^\s*([0-9]+)\s*([dw])\s*$")


@dataclass(frozen=True, slots=True)
class OncallConfig:
    rotations: Mapping[str, Rotation] = field(default_factory=dict)
    policies: Mapping[str, PagingPolicy] = field(default_factory=dict)
    escalation: Mapping[str, str] = field(default_factory=dict)  # priority P1..P4 -> policy name
    public_url: str | None = None  # without a trailing slash
    ack_ttl: float = 86400.0
    token_key: bytes | None = field(default=None, repr=False)  # signs ack links; never shown
    # (without one, control.links makes a random key in the data directory)
    pagerduty_secrets: tuple[str, ...] = field(default=(), repr=False)  # V3 webhook signing secrets
    opsgenie_token: str | None = field(default=None, repr=False)  # shared token of the webhook integration


def read_oncall(
    rd: r.Reader, contacts: tuple[str, ...], config_dir: str, timezone: str = "UTC"
) -> OncallConfig:
    """`contacts`: the configured contact names; `timezone`: the display zone, the default of layers and
    overrides."""
    d = OncallConfig()
    has_key = rd.has("token_key_file") or rd.has("token_key_env")
    token_key = _signing_key(rd, config_dir) if has_key else None
    public_url = rd.get("public_url", _base_url, None)
    rotations: dict[str, Rotation] = {}
    rot_rd = rd.child("rotations")
    for name in rot_rd.names():
        rotation = _rotation(name, rot_rd.child(name), contacts, timezone)
        if rotation is not None:
            rotations[name] = rotation
    policies: dict[str, PagingPolicy] = {}
    pol_rd = rd.child("policies")
    known_rotations = tuple(rot_rd.names())  # a rotation with problems is still a name, not an unknown one
    for name in pol_rd.names():
        policies[name] = _policy(name, pol_rd.child(name), contacts, known_rotations)
    escalation: dict[str, str] = {}
    esc_rd = rd.child("escalation")
    for prio in esc_rd.names(PRIORITIES):
        policy = esc_rd.get(prio, r.string, None)
        if policy is None:
            continue
        if policy not in policies:
            esc_rd.problem(prio, f"unknown policy {policy!r} (configured: {', '.join(policies) or 'none'})")
            continue
        escalation[prio] = policy
    esc_rd.finish()
    out = OncallConfig(
        rotations=rotations,
        policies=policies,
        escalation=escalation,
        public_url=public_url,
        ack_ttl=rd.get("ack_ttl", r.duration, d.ack_ttl),
        token_key=token_key,
        **_inbound(rd.child("inbound"), config_dir),
    )
    rd.finish()
    return out


def _inbound(rd: r.Reader, config_dir: str) -> dict[str, Any]:
    """`inbound: {pagerduty: {secret_file|secret_env}, opsgenie: {token_file|token_env}}`: the secrets
    that authenticate acknowledgements sent back by the services."""
    out: dict[str, Any] = {}
    for service, name, field_name in (
        ("pagerduty", "secret", "pagerduty_secrets"),
        ("opsgenie", "token", "opsgenie_token"),
    ):
        s = rd.child(service)
        if not s.ok or not (s.has(f"{name}_file") or s.has(f"{name}_env")):
            if rd.has(service) and (s.ok or rd.raw(service) is None):  # not a mapping: said already
                s.problem(None, f"give {name}_file or {name}_env")
            s.finish()
            continue
        try:
            secret = read_secret(s.raw(f"{name}_file"), s.raw(f"{name}_env"), config_dir).strip()
        except ValueError as exc:
            s.problem(f"{name}_file" if s.has(f"{name}_file") else f"{name}_env", str(exc))
            secret = ""
        s.finish()
        if secret:
            out[field_name] = (
                tuple(x.strip() for x in secret.split(",")) if service == "pagerduty" else secret
            )
    rd.finish()
    return out


def _signing_key(rd: r.Reader, config_dir: str) -> bytes | None:
    key = "token_key_file" if rd.has("token_key_file") else "token_key_env"
    try:
        secret = read_secret(rd.raw("token_key_file"), rd.raw("token_key_env"), config_dir).encode()
    except ValueError as exc:
        rd.problem(key, str(exc))
        return None
    if len(secret) < MIN_KEY_BYTES:
        rd.problem(key, f"the key is too short: at least {MIN_KEY_BYTES} bytes (openssl rand -base64 32)")
        return None
    return secret


# -- rotations ---------------------------------------------------------------------------------------


def _rotation(name: str, rd: r.Reader, contacts: tuple[str, ...], timezone: str) -> Rotation | None:
    layers: list[Layer] = []
    items = _items(
        rd,
        "layers",
        "a list of layers: [{members: [...], length: weekly, ...}, ...]",
        "a rotation needs a layer",
    )
    seen: set[str] = set()
    for i, item in enumerate(items):
        lr = r.Reader(item, f"{rd.key_path('layers')}[{i}]", rd.problems, rd.file, rd.line("layers"))
        layer = _layer(lr, i, contacts, timezone)
        lr.finish()
        if layer is None:
            continue
        if layer.name in seen or layer.name == OVERRIDE:
            lr.problem("name", f"layer names must be unique and not {OVERRIDE!r}: {layer.name!r}")
        seen.add(layer.name)
        layers.append(layer)
    overrides: list[Override] = []
    for i, item in enumerate(
        _items(rd, "overrides", "a list of overrides: [{member: ..., start: ..., end: ...}]")
    ):
        orr = r.Reader(item, f"{rd.key_path('overrides')}[{i}]", rd.problems, rd.file, rd.line("overrides"))
        override = _override(orr, contacts, timezone)
        orr.finish()
        if override is not None:
            overrides.append(override)
    rd.finish()
    if not layers or len(layers) != len(items):
        return None
    return Rotation(name, tuple(layers), tuple(overrides))


def _items(rd: r.Reader, key: str, expected: str, needed: str | None = None) -> list[Any]:
    """A list of mappings under `key`; [] (and a problem) when it is something else. With `needed`, a
    missing or empty list is the problem `needed`."""
    if not rd.ok:
        return []
    value = rd.raw(key)
    if value is not None and not isinstance(value, list):
        rd.problem(key, f"expected {expected}")
        return []
    if not value and needed is not None:
        rd.problem(key, needed)
    return value or []


def _required(rd: r.Reader, key: str, conv: Callable[[Any], T], hint: str) -> T | None:
    """rd.get for a required key, saying what to write when it is missing; None on any problem."""
    if rd.data.get(key) is None:
        rd.mark_read(key)
        if rd.ok:
            rd.problem(key, f"is required ({hint})")
        return None
    value: T | None = rd.get(key, conv, None)
    return value


def _layer(rd: r.Reader, i: int, contacts: tuple[str, ...], timezone: str) -> Layer | None:
    name = rd.get("name", r.string, f"layer{i + 1}")
    members = _required(rd, "members", r.member_list(contacts, "contact"), "the contacts on duty, in order")
    if members == ():
        rd.problem("members", "a layer needs at least one member")
    length = _required(rd, "length", _length, "daily, weekly, Nd, Nw or a duration like 12h")
    zone = ZoneInfo(rd.get("timezone", r.timezone, timezone))
    handoff = rd.get("handoff", _clock, None)
    begin = _required(rd, "start", _local, "a date with handoff, or a local time like 2026-11-30 09:00")
    restrictions = _restrictions(rd)
    if not members or length is None or begin is None or restrictions is None:
        return None
    days, seconds = length
    if handoff is not None and seconds:
        rd.problem(
            "handoff", f"a layer of fixed length hands off every {rd.raw('length')} from start: leave it out"
        )
        return None
    if handoff is not None and isinstance(begin, dt.datetime):
        rd.problem("handoff", "give the hand-off time in start or in handoff, not both")
        return None
    if handoff is None and days and not isinstance(begin, dt.datetime):
        rd.problem("handoff", 'is required with a start date: the wall time of the hand-off, like "09:00"')
        return None
    if isinstance(begin, dt.datetime):
        start = begin if begin.tzinfo is not None else begin.replace(tzinfo=zone)
    else:
        start = dt.datetime.combine(begin, handoff or dt.time(0), tzinfo=zone)
    if not _in_range(rd, "start", start.timestamp()):
        return None
    return Layer(name, members, zone.key, start, days, seconds, restrictions)


def _length(value: Any) -> tuple[int, float]:
    """(calendar days, 0) for daily, weekly, Nd and Nw; (0, seconds) for a fixed duration."""
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text in ("daily", "weekly"):
        return (1 if text == "daily" else 7), 0.0
    if text is not None and (m := _CALENDAR.fullmatch(text)):
        days = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
        if not 1 <= days <= 366:
            raise ValueError(f"expected 1 to 366 days, not {value!r}")
        return days, 0.0
    try:
        seconds = r.duration(value)
    except ValueError:
        raise ValueError(
            f"expected daily, weekly, Nd, Nw or a duration like 12h, not {r.shown(value)}"
        ) from None
    if seconds < MIN_LENGTH:
        raise ValueError(f"a layer lasts at least 1h, not {r.shown(value)}")
    return 0, seconds


def _restrictions(rd: r.Reader) -> tuple[Restriction, ...] | None:
    """None when one of them has a problem (already reported)."""
    items = _items(rd, "restrict", 'a list like [{days: mon-fri, start: "08:00", end: "18:00"}]')
    out = []
    for i, item in enumerate(items):
        rr = r.Reader(item, f"{rd.key_path('restrict')}[{i}]", rd.problems, rd.file, rd.line("restrict"))
        days = rr.get("days", r.weekdays, frozenset(range(7)))
        start = rr.get("start", _clock, None)
        end = rr.get("end", _end_clock, None)
        for key, value in (("start", start), ("end", end)):
            if value is None and not rr.has(key):
                rr.problem(key, 'is required (a time like "08:00")')
        rr.finish()
        if days is not None and start is not None and end is not None:
            out.append(Restriction(days, start, end))
    return tuple(out) if len(out) == len(items) else None


def _override(rd: r.Reader, contacts: tuple[str, ...], timezone: str) -> Override | None:
    member = _required(
        rd, "member", lambda v: r.member_list(contacts, "contact")(r.string(v))[0], "a contact"
    )
    zone = ZoneInfo(rd.get("timezone", r.timezone, timezone))
    start, end = (
        _required(rd, key, _local, "a local time like 2026-12-24 18:00") for key in ("start", "end")
    )
    if member is None or start is None or end is None:
        return None
    s, e = (_instant(v, zone) for v in (start, end))
    if not (_in_range(rd, "start", s) and _in_range(rd, "end", e)):
        return None
    if e <= s:
        rd.problem("end", "must be after start")
        return None
    return Override(member, s, e)


def _in_range(rd: r.Reader, key: str, t: float) -> bool:
    """Times within core.timespec's range, as everywhere else (and far from datetime's year 1 and 9999)."""
    try:
        timespec.check_instant(t)
    except ValueError as exc:
        rd.problem(key, str(exc))
        return False
    return True


def _instant(value: dt.date | dt.datetime, zone: ZoneInfo) -> float:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(0))
    return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).timestamp()


# -- paging policies ---------------------------------------------------------------------------------


def _policy(name: str, rd: r.Reader, contacts: tuple[str, ...], rotations: tuple[str, ...]) -> PagingPolicy:
    levels = []
    items = _items(
        rd,
        "levels",
        "a list of levels: [{after: 0, page: [rotation:primary]}, ...]",
        "a policy needs a level",
    )
    for i, item in enumerate(items):
        lr = r.Reader(item, f"{rd.key_path('levels')}[{i}]", rd.problems, rd.file, rd.line("levels"))
        targets = (
            _required(lr, "page", _targets(contacts, rotations), "the contacts or rotation:NAME to page")
            or ()
        )
        levels.append(
            PageLevel(lr.get("after", _duration0, 0.0), lr.get("at", r.one_of(*DEADLINES), None), targets)
        )
        lr.finish()
    repeat = rd.get("repeat", _count, 0)
    rd.finish()
    return PagingPolicy(name, tuple(levels), repeat)


def _targets(contacts: tuple[str, ...], rotations: tuple[str, ...]) -> Callable[[Any], tuple[str, ...]]:
    def conv(value: Any) -> tuple[str, ...]:
        items = r.string_list(value)
        if not items:
            raise ValueError("expected at least one contact or rotation:NAME")
        for item in items:
            if item.startswith(ROTATION_PREFIX):
                if item.removeprefix(ROTATION_PREFIX) not in rotations:
                    raise ValueError(
                        f"unknown rotation {item!r} (configured: {', '.join(rotations) or 'none'})"
                    )
            elif item not in contacts:
                raise ValueError(
                    f"unknown contact {item!r} (configured: {', '.join(contacts) or 'none'};"
                    f" a rotation is {ROTATION_PREFIX}NAME)"
                )
        return items

    return conv


# -- scalars -----------------------------------------------------------------------------------------


def _base_url(value: Any) -> str:
    text = r.string(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(
            f"expected the public base URL, e.g. https://watchd.example.net, not {r.shown(value)}"
        )
    return text.rstrip("/")


def _clock(value: Any) -> dt.time:
    if isinstance(value, int) and not isinstance(value, bool):
        unquoted = "(YAML reads 18:00 unquoted as 1080)"
        raise ValueError(f'expected a time in quotes like "08:00", not the number {value} {unquoted}')
    try:
        return dt.time.fromisoformat(r.string(value).strip())
    except ValueError:
        raise ValueError(f'expected a time like "08:00", not {r.shown(value)}') from None


def _end_clock(value: Any) -> dt.time:
    """An end time; "24:00" is the midnight that ends the day."""
    return dt.time(0) if isinstance(value, str) and value.strip() == "24:00" else _clock(value)


def _local(value: Any) -> dt.date | dt.datetime:
    """A date, or a datetime: naive (a wall time in the layer's zone) or with a UTC offset."""
    if isinstance(value, dt.date):  # YAML turns 2026-11-30 (and 2026-11-30 09:00:00) into these
        return value
    text = r.string(value).strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"expected a date like 2026-11-30 or a time like 2026-11-30 09:00, not {r.shown(value)}"
        ) from None


def _duration0(value: Any) -> float:
    return 0.0 if value in (0, "0") else r.duration(value)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValueError(f"expected a whole number from 0 to 100, not {r.shown(value)}")
    return value
