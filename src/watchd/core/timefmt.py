"""Times shown to people: one format, always with the zone named. Pure (zoneinfo only).

`local(t, "Europe/Berlin")` is `2026-11-24 14:05 CET`; a zone whose abbreviation is only an offset
(`+03`) is shown as `UTC+03`. Machine formats (JSON, CSV, webhooks) stay ISO 8601 UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

from watchd.core import timespec


@functools.lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def abbreviation(t: float, name: str) -> str:
    """The zone's name at `t`: CET or CEST for Europe/Berlin, UTC for UTC, UTC+03 for Europe/Istanbul."""
    abbr = dt.datetime.fromtimestamp(t, zone(name)).strftime("%Z")
    return f"UTC{abbr}" if abbr[:1] in "+-" else abbr


def local(t: float | None, name: str, none: str = "-", seconds: bool = False) -> str:
    """`2026-11-24 14:05 CET` in zone `name`; `none` for no time."""
    t = timespec.renderable(t)  # a row an older version stored may hold a time past year 9999
    if t is None:
        return none
    clock = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return f"{dt.datetime.fromtimestamp(t, zone(name)).strftime(clock)} {abbreviation(t, name)}"


def described(name: str) -> str:
    """How a rendering names its zone once: `Europe/Berlin`, or `UTC` for the UTC aliases."""
    return "UTC" if name in ("UTC", "Etc/UTC", "Etc/Universal", "Etc/Zulu", "Zulu", "Universal") else name
