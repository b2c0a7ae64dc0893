"""Load `watchd.yaml` plus `conf.d/*.yaml` beside it, validate into a typed, frozen `Config`.

Every problem is collected and raised together in one ConfigError: file, line, key path, message.
Unknown keys are errors. Defaults are documented in docs/configuration.md. The section readers use
`configkit`; sections that belong to a part live beside it (bus/config.py). May import `core`,
`configkit`, `sources`, `delivery` and `bus`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import socket
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import yaml

from watchd.bus.config import read_mqtt
from watchd.config.api import read_api
from watchd.config.checks import read_check, read_defaults
from watchd.config.icinga2 import read_icinga2
from watchd.config.incidents import read_incidents, read_tickets
from watchd.config.model import CheckConfig, Config, LogConfig, SchedulerConfig
from watchd.config.notify import NotifyConfig, read_contacts, read_maintenance, read_notify
from watchd.config.oncall import read_oncall
from watchd.configkit import reader as r
from watchd.configkit.yamlfile import LineDict, load_yaml
from watchd.core.errors import ConfigError, Problem
from watchd.delivery.notify.contacts import Contact
from watchd.sources import BuildContext

__all__ = ["CheckConfig", "Config", "ConfigError", "default_data_dir", "host_timezone", "load"]

DEFAULT_PLUGIN_DIRS = (
    "/usr/lib/nagios/plugins",
    "/usr/lib/monitoring-plugins",
    "/usr/local/lib/watchd/checks",
)
# Sections a conf.d file may add to; keys inside them must not repeat across files.
_MERGED_SECTIONS = ("checks", "macros")


def host_timezone(localtime: str = "/etc/localtime", timezone_file: str = "/etc/timezone") -> str:
    """The host's zone name, as `timedatectl` shows it: the target of the /etc/localtime link below
    zoneinfo/, else Debian's /etc/timezone, else UTC. $TZ is not read: the daemon (under systemd)
    and a user's shell must show the same zone."""
    names: list[str] = []
    with contextlib.suppress(OSError):
        target = os.path.realpath(localtime)
        if "/zoneinfo/" in target:
            names.append(target.split("/zoneinfo/", 1)[1].removeprefix("posix/"))
    with contextlib.suppress(OSError, UnicodeDecodeError), open(timezone_file, encoding="utf-8") as f:
        names.append(f.read().strip())
    for name in names:
        with contextlib.suppress(ValueError):
            return r.timezone(name)
    return "UTC"


def default_data_dir() -> str:
    """systemd's StateDirectory, /var/lib/watchd for root, else the XDG state directory."""
    if os.environ.get("STATE_DIRECTORY"):
        return os.environ["STATE_DIRECTORY"].split(":")[0]
    if os.geteuid() == 0:
        return "/var/lib/watchd"
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "watchd")


def load(path: str) -> Config:
    """Read and validate the configuration; raise ConfigError listing every problem."""
    problems: list[Problem] = []
    path = os.path.abspath(path)
    doc = _read_file(path, problems)
    files = [path]
    if doc is None and not problems:
        doc = LineDict()
        doc.file, doc.lines = path, {}
    confd = os.path.join(os.path.dirname(path), "conf.d")
    for extra in sorted(glob.glob(os.path.join(confd, "*.yaml"))):
        files.append(extra)
        part = _read_file(extra, problems)
        if part is not None and isinstance(doc, dict):
            _merge(doc, part, extra, problems)
    if doc is None:
        raise ConfigError(problems)
    config = _build(doc, path, problems)
    if problems:
        raise ConfigError(problems)
    assert config is not None
    return replace(config, files=tuple(files))


def _read_file(path: str, problems: list[Problem]) -> Any:
    try:
        return load_yaml(path)
    except FileNotFoundError:
        problems.append(Problem(path, "", "file not found"))
    except OSError as exc:
        problems.append(Problem(path, "", f"cannot read: {exc.strerror}"))
    except UnicodeDecodeError as exc:
        problems.append(
            Problem(path, "", f"not UTF-8 text (byte {exc.start}: {exc.object[exc.start : exc.start + 1]!r})")
        )
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problems.append(Problem(path, "", f"invalid YAML: {getattr(exc, 'problem', None) or exc}", line))
    return None


def _merge(doc: dict[str, Any], part: Any, file: str, problems: list[Problem]) -> None:
    if part is None:
        return
    if not isinstance(part, dict):
        problems.append(Problem(file, "", "must be a mapping"))
        return
    for section, value in part.items():
        line = part.lines.get(section) if isinstance(part, LineDict) else None
        if section not in _MERGED_SECTIONS:
            problems.append(
                Problem(file, section, f"conf.d files may only contain {', '.join(_MERGED_SECTIONS)}", line)
            )
            continue
        if not isinstance(value, dict):
            problems.append(Problem(file, section, "must be a mapping", line))
            continue
        if section not in doc:  # the main file lacks the section: start an empty one that knows its lines
            doc[section] = LineDict()
            doc[section].file, doc[section].lines = file, {}
        target = doc[section]
        if not isinstance(target, dict):
            continue  # reported when the main file's section is read
        for key, item in value.items():
            if key in target:
                first = getattr(target, "file", "?")
                first = getattr(target.get(key), "file", first)
                line = value.lines.get(key) if isinstance(value, LineDict) else None
                problems.append(Problem(file, f"{section}.{key}", f"already defined in {first}", line))
            else:
                target[key] = item
                if isinstance(target, LineDict) and isinstance(value, LineDict):
                    target.lines.setdefault(key, value.lines.get(key, 0))


def _build(doc: Any, path: str, problems: list[Problem]) -> Config | None:
    top = r.Reader(doc, "", problems, path)
    if not top.ok:
        return None
    config_dir = os.path.dirname(path)
    host = top.get("host", r.string, socket.gethostname())
    # The one zone every time shown to people is in (CLI, SLA reports and months, status page, and
    # contacts' notifications unless a contact sets its own).
    zone = top.get("timezone", r.timezone, "") or host_timezone()
    data_dir = top.get("data_dir", r.string, "") or default_data_dir()
    data_dir = os.path.normpath(os.path.join(config_dir, os.path.expanduser(data_dir)))
    dirs = top.get("plugin_dirs", r.string_list, DEFAULT_PLUGIN_DIRS)
    plugin_dirs = tuple(os.path.normpath(os.path.join(config_dir, os.path.expanduser(d))) for d in dirs)

    log_rd = top.child("log")
    log = LogConfig(
        level=log_rd.get("level", r.one_of("debug", "info", "warning", "error"), "info"),
        format=log_rd.get("format", r.one_of("auto", "json", "console"), "auto"),
    )
    log_rd.finish()

    sched_rd = top.child("scheduler")
    sd = SchedulerConfig()
    scheduler = SchedulerConfig(
        max_concurrent=sched_rd.get("max_concurrent", r.positive_int, sd.max_concurrent),
        kill_grace=sched_rd.get("kill_grace", r.duration, sd.kill_grace),
        shutdown_grace=sched_rd.get("shutdown_grace", r.duration, sd.shutdown_grace),
        state_flush_interval=sched_rd.get("state_flush_interval", r.duration, sd.state_flush_interval),
        followup_interval=sched_rd.get("followup_interval", r.duration, sd.followup_interval),
        granularity=sched_rd.get("granularity", _granularity, sd.granularity),
    )
    sched_rd.finish()

    macros = {
        "HOSTNAME": host,
        "HOSTADDRESS": "127.0.0.1",
        **{f"USER{i + 1}": d for i, d in enumerate(plugin_dirs[:1])},
    }
    user_macros = top.get("macros", r.string_map, {})
    for name in user_macros:
        if not name.isupper() or not name.replace("_", "").isalnum():
            top.problem(f"macros.{name}", "macro names are upper case letters, digits and _")
    macros.update(user_macros)

    incidents = read_incidents(top.child("incidents"))
    tickets = read_tickets(top.child("tickets"))
    contacts = read_contacts(top.child("contacts"), zone, config_dir)
    notify = read_notify(top.child("notify"), tuple(contacts), config_dir)
    _check_gateways(top.child("contacts"), contacts, notify)
    maintenance = read_maintenance(top.child("maintenance"), tuple(contacts))
    oncall = read_oncall(top.child("oncall"), tuple(contacts), config_dir, zone)
    if maintenance.calendar not in incidents.priority.calendars:
        top.problem("maintenance.calendar", f"unknown calendar {maintenance.calendar!r}")
    defaults = read_defaults(top.child("defaults"))
    ctx = BuildContext(host=host, config_dir=config_dir, data_dir=data_dir)
    checks: dict[str, CheckConfig] = {}
    checks_rd = top.child("checks")
    for name in checks_rd.names():
        cfg = read_check(
            str(name),
            checks_rd.child(name),
            defaults,
            macros,
            plugin_dirs,
            ctx,
            tuple(tickets.backends),
            tuple(contacts),
        )
        if cfg is not None:
            checks[str(name)] = cfg
    _check_dependencies(checks_rd, checks)
    mqtt = read_mqtt(top.child("mqtt"))
    for name, contact in contacts.items():
        if contact.mqtt and mqtt is None:
            top.problem(f"contacts.{name}.mqtt", "needs the mqtt section (the bus it is published on)")
    api = read_api(top.child("api"), checks=tuple(checks), timezone=zone)
    icinga2 = read_icinga2(top.child("icinga2"), config_dir, host)
    if icinga2 is not None and icinga2.host_check is not None and icinga2.host_check not in checks:
        top.child("icinga2").problem("host_check", f"unknown check {icinga2.host_check!r}")
    top.finish()
    return Config(
        host=host, data_dir=data_dir, plugin_dirs=plugin_dirs, log=log, scheduler=scheduler, checks=checks,
        incidents=incidents, tickets=tickets, contacts=contacts, notify=notify, maintenance=maintenance,
        oncall=oncall, mqtt=mqtt, api=api, icinga2=icinga2, timezone=zone,
    )  # fmt: skip


def _check_dependencies(rd: r.Reader, checks: dict[str, CheckConfig]) -> None:
    """depends_on must name configured checks and must not loop."""
    for name, cfg in checks.items():
        for parent in cfg.depends_on:
            if parent not in checks:
                rd.child(name).problem("depends_on", f"unknown check {parent!r}")
    for name in checks:
        seen, todo = set(), list(checks[name].depends_on)
        while todo:
            p = todo.pop()
            if p == name:
                rd.child(name).problem("depends_on", "dependencies form a cycle back to this check")
                break
            if p in seen or p not in checks:
                continue
            seen.add(p)
            todo.extend(checks[p].depends_on)


def _check_gateways(rd: r.Reader, contacts: Mapping[str, Contact], notify: NotifyConfig) -> None:
    """A contact's sms/voice names a gateway of that kind in notify.gateways."""
    for name, c in contacts.items():
        contact = rd.child(name)  # so a problem carries the line of the sms/voice key
        for medium, gateway in (("sms", c.sms), ("voice", c.voice)):
            if gateway is None:
                continue
            g = notify.gateways.get(gateway)
            if g is None:
                known = ", ".join(sorted(notify.gateways)) or "none"
                contact.problem(medium, f"unknown gateway {gateway!r} (notify.gateways has {known})")
            elif g.kind != medium:
                contact.problem(medium, f"gateway {gateway!r} is for {g.kind}, not {medium}")


def _granularity(value: Any) -> float | None:
    if value == "auto":
        return None
    seconds = r.duration(value)
    if not 0.001 <= seconds <= 1.0:
        raise ValueError(f"must be auto or between 1ms and 1s, not {value!r}")
    return seconds
