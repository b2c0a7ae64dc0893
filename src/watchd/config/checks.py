"""The `checks` section: scheduling keys common to every check, and the per-type part."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from watchd.config.model import CheckConfig
from watchd.configkit import reader as r
from watchd.core.errors import ParamError
from watchd.core.model import State
from watchd.sources import BuildContext, factory_for, known_types
from watchd.sources.plugin import BASE_ENV, PluginSource, resolve_executable

_MACRO = re.compile(r"\$([A-Z][A-Z0-9_]*)?\$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


@dataclass(frozen=True, slots=True)
class CheckDefaults:
    interval: float = 60.0
    retry_interval: float = 15.0
    max_attempts: int = 3
    timeout: float = 60.0
    timeout_state: State = State.CRITICAL
    output_limit: int = 65536
    flap_detection: bool = True
    flap_low: float = 5.0
    flap_high: float = 20.0


def read_defaults(rd: r.Reader) -> CheckDefaults:
    out = CheckDefaults(**_scheduling_keys(rd, CheckDefaults()))
    rd.finish()
    return out


def _scheduling_keys(rd: r.Reader, d: CheckDefaults) -> dict[str, Any]:
    """The keys `defaults:` sets for every check, and every check may override."""
    return dict(
        interval=rd.get("interval", r.duration, d.interval),
        retry_interval=rd.get("retry_interval", r.duration, d.retry_interval),
        max_attempts=rd.get("max_attempts", r.positive_int, d.max_attempts),
        timeout=rd.get("timeout", r.duration, d.timeout),
        timeout_state=rd.get("timeout_state", r.state, d.timeout_state),
        output_limit=rd.get("output_limit", r.positive_int, d.output_limit),
        flap_detection=rd.get("flap_detection", r.boolean, d.flap_detection),
        flap_low=rd.get("flap_low", _percent, d.flap_low),
        flap_high=rd.get("flap_high", _percent, d.flap_high),
    )


def _percent(value: Any) -> float:
    v = r.number(value)
    if not 0 <= v <= 100:
        raise ValueError(f"expected a percentage between 0 and 100, not {value!r}")
    return v


def substitute_macros(item: str, macros: Mapping[str, str]) -> str:
    """Replace $NAME$ inside one argv item; `$$` is a literal dollar. Unknown macros are errors."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name is None:
            return "$"
        if name not in macros:
            raise ValueError(f"unknown macro ${name}$ (known: {', '.join(sorted(macros))})")
        return macros[name]

    return _MACRO.sub(repl, item)


def read_check(
    name: str,
    rd: r.Reader,
    defaults: CheckDefaults,
    macros: Mapping[str, str],
    plugin_dirs: tuple[str, ...],
    ctx: BuildContext,
    ticket_backends: tuple[str, ...] = ("builtin",),
    contacts: tuple[str, ...] = (),
) -> CheckConfig | None:
    if not _NAME.match(name):
        rd.problem(None, "check names use letters, digits and _ . : - (and start with a letter or digit)")
    check_type = rd.get("type", r.string, "plugin" if rd.has("command") or not rd.has("type") else "")
    common: dict[str, Any] = dict(
        **_scheduling_keys(rd, defaults),
        enabled=rd.get("enabled", r.boolean, True),
        description=rd.get("description", r.string, ""),
        tags=rd.get("tags", r.string_list, ()),
        impact=rd.get("impact", r.one_of("high", "medium", "low"), None),
        urgency=rd.get("urgency", r.one_of("high", "medium", "low"), None),
        tickets=rd.get("tickets", r.member_list(ticket_backends, "ticket backend"), None),
        notify=rd.get("notify", r.member_list(contacts, "contact"), None),
        depends_on=rd.get("depends_on", r.string_list, ()),
    )
    if common["flap_low"] > common["flap_high"]:
        rd.problem("flap_low", f"must not exceed flap_high ({common['flap_high']})")

    if check_type == "plugin":
        argv = _read_command(rd, {**macros, "SERVICEDESC": name}, plugin_dirs)
        env = {**BASE_ENV, **rd.get("env", r.string_map, {})}
        rd.finish()
        if argv is None:
            return None
        cfg = CheckConfig(name=name, type="plugin", command=argv, env=env, **common)
        return _with_source(cfg, PluginSource(name, argv, env, cfg.output_limit, cfg.timeout_state))

    factory = factory_for(check_type)
    if factory is None:
        known = ", ".join(sorted(["plugin", *known_types()]))
        rd.problem("type", f"unknown check type {check_type!r} (known: {known})")
        return None
    params = {k: rd.raw(k) for k in rd.unread()}
    try:
        source = factory(name, params, ctx)
    except ParamError as exc:
        rd.problem(exc.key, exc.message)
        return None
    cfg = CheckConfig(name=name, type=check_type, params=params, **common)
    return _with_source(cfg, source)


def _with_source(cfg: CheckConfig, source: object) -> CheckConfig:
    object.__setattr__(cfg, "source", source)
    return cfg


def _list_form(command: str) -> str:
    """The argv list a shell would have made of `command`, as YAML, for the error message."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return "write it as a list such as [check_dummy, '0']"
    return "write " + yaml.safe_dump(argv, default_flow_style=True, width=1_000_000).strip()


def _read_command(
    rd: r.Reader, macros: Mapping[str, str], plugin_dirs: tuple[str, ...]
) -> tuple[str, ...] | None:
    raw = rd.raw("command")
    if raw is None:
        rd.problem("command", "is required for a plugin check (an argv list such as [check_dummy, '0'])")
        return None
    if isinstance(raw, str):
        suggestion = _list_form(raw)
        rd.problem("command", f"must be an argv list, not a string: {suggestion} (watchd never runs a shell)")
        return None
    try:
        argv = list(r.string_list(raw))
    except ValueError as exc:
        rd.problem("command", str(exc))
        return None
    if not argv:
        rd.problem("command", "is empty")
        return None
    try:
        argv = [substitute_macros(item, macros) for item in argv]
    except ValueError as exc:
        rd.problem("command", str(exc))
        return None
    argv[0] = resolve_executable(argv[0], plugin_dirs)
    return tuple(argv)
