"""Sources produce CheckResults: plugins, probes, resource samplers, fleet peers.

Every source has one async method, `run(timeout)`, and returns a CheckResult whatever happens:
a failure to check is a result with a reason, never an exception.

A built-in check type registers a factory in `SOURCE_TYPES`: it receives the check's name and its
type-specific keys (everything in the check's mapping that is not a common scheduling key) and
returns a Source, or raises ParamError naming the bad key. May import `core`, `nagios`, `plugin`,
`configkit` and `runtime`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from watchd.core.model import CheckResult


class Source(Protocol):
    async def run(self, timeout: float) -> CheckResult: ...


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What a factory may need beyond the check's own keys."""

    host: str
    config_dir: str
    secrets_dir: str | None = None
    data_dir: str | None = None  # where a source may keep state (munin's plugin state)


SourceFactory = Callable[[str, Mapping[str, Any], BuildContext], Source]

SOURCE_TYPES: dict[str, SourceFactory] = {}

# Where each built-in type lives. A module is imported when a check uses its type, so a daemon that
# only runs plugins does not carry psutil's samplers or aiohttp (20 MB, for `http`).
_R, _P = "watchd.sources.resources.", "watchd.sources.probes."
LAZY_TYPES: dict[str, str] = {
    "cpu": _R + "cpu", "load": _R + "load", "memory": _R + "memory", "swap": _R + "memory",
    "disk": _R + "disk", "disk_io": _R + "disk_io", "net": _R + "net", "process": _R + "process",
    "systemd_unit": _R + "systemd_unit", "uptime": _R + "uptime", "reboot_required": _R + "uptime",
    "http": _P + "http", "tls": _P + "tls", "tcp": _P + "tcp", "dns": _P + "dns", "icmp": _P + "icmp",
    "munin": "watchd.sources.munin.source",
}  # fmt: skip


def factory_for(type_name: str) -> SourceFactory | None:
    if type_name not in SOURCE_TYPES and type_name in LAZY_TYPES:
        importlib.import_module(LAZY_TYPES[type_name])
    return SOURCE_TYPES.get(type_name)


def known_types() -> list[str]:
    return sorted({*SOURCE_TYPES, *LAZY_TYPES})


def register(type_name: str) -> Callable[[SourceFactory], SourceFactory]:
    def deco(factory: SourceFactory) -> SourceFactory:
        SOURCE_TYPES[type_name] = factory
        return factory

    return deco
