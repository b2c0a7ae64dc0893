"""Evaluated Icinga 2 objects -> a watchd `Migration`. Pure apart from `import_icinga2`, which loads files.

icinga2_objects evaluates the objects as Icinga does (imports in place, then apply rules against every
host and service) and icinga2_argv builds each check's argv as MacroProcessor::ResolveArguments does;
this module turns the result into watchd terms: checks placed as for Nagios (nagios_translate), every
host's services or one host's with `host`; Users with an email as contacts, TimePeriods as calendars,
Notifications as each check's notify list, Dependencies as depends_on, the rest as findings.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from typing import Any

from watchd.migrate.commandline import NeedsShell, ref
from watchd.migrate.icinga2_argv import render_command
from watchd.migrate.icinga2_eval import EvalError, to_string
from watchd.migrate.icinga2_load import Loaded, load_icinga2
from watchd.migrate.icinga2_objects import IObj, Objects
from watchd.migrate.model import Check, ContactOut, Macro, Migration, Origin
from watchd.migrate.nagios_objects import Obj
from watchd.migrate.nagios_parse import Directive
from watchd.migrate.nagios_translate import HOST_CHECK_LEFT_OUT, check_name, macro_name
from watchd.migrate.timeperiods import translate_period

_NOT_NEEDED = {
    "NotificationCommand", "EventCommand", "Zone", "Endpoint", "ApiUser", "ApiListener", "CheckerComponent",
    "NotificationComponent", "IcingaApplication", "FileLogger", "SyslogLogger", "JournaldLogger",
    "IdoMysqlConnection", "IdoPgsqlConnection", "GraphiteWriter", "InfluxdbWriter", "Influxdb2Writer",
    "ElasticsearchWriter", "GelfWriter", "OpenTsdbWriter", "PerfdataWriter", "StatusDataWriter",
    "CompatLogger", "ExternalCommandListener", "LivestatusListener", "IcingaDB", "CheckResultReader",
}  # fmt: skip


class _Translation:
    """The evaluated objects -> checks, contacts, calendars, notify lists and depends_on, in one run."""

    def __init__(self, loaded: Loaded, host: str | None, years: tuple[int, ...]) -> None:
        self.ld, self.host_only, self.years = loaded, host, years
        self.m = Migration("icinga2", host=host)
        self.m.findings.extend(loaded.problems)
        self.o = Objects(loaded, self.m)
        self.names: set[str] = set()
        self.by_service: dict[tuple[str, str], str] = {}
        self.by_host: dict[str, str] = {}
        self.contacts: set[str] = set()
        self.notify: dict[tuple[str, str | None], list[str]] = {}  # (host, service|None) -> users
        self.renotify: Counter[float] = Counter()

    def run(self) -> Migration:
        self.o.evaluate()
        self.m.hosts = list(self.o.of("Host"))
        self.o.assign_groups()
        self._users()
        self._timeperiods()
        self._notifications()
        if self.host_only is not None and self.host_only not in self.o.of("Host"):
            self.m.skip(None, f"--host {self.host_only}", "no such Host object")
        for name, h in self.o.of("Host").items():
            self._host(name, h)
        for s in self.o.services:
            self._service(s)
        self._dependencies()
        for kind, objs in self.o.objs.items():
            if kind in _NOT_NEEDED:
                self.m.count(kind, "not needed", len(objs))
            elif kind not in (
                "Host",
                "User",
                "UserGroup",
                "HostGroup",
                "ServiceGroup",
                "TimePeriod",
                "CheckCommand",
            ):
                self.m.count(kind, "not translatable", len(objs))
                for o in objs.values():
                    self.m.skip(o.origin, f"{kind} {o.name}", "no watchd counterpart for this object type")
        used = {t for c in self.m.checks for t in c.tags}
        for kind in ("HostGroup", "ServiceGroup"):
            for g in self.o.of(kind):
                self.m.count(kind, "imported" if g in used else "not needed")
        for name in self.o.lazy:
            self.m.count("CheckCommand", self.o.command_use.get(name, "not needed"))
        for ad, file in self.ld.applies:
            if ad.type not in ("Service", "Notification", "Dependency"):
                self.m.count(f"apply {ad.type}", "not translatable")
                why = (
                    "use watchd maintenance windows"
                    if ad.type == "ScheduledDowntime"
                    else "no watchd counterpart"
                )
                self.m.skip(Origin(file, ad.line), f"apply {ad.type}", why)
        if self.renotify:
            interval, n = self.renotify.most_common(1)[0]
            self.m.renotify_interval = interval
            if len(self.renotify) > 1:
                self.m.note(
                    None,
                    "Notification interval",
                    f"watchd has one renotify_interval; took {interval:g}s ({n})",
                )
        return self.m

    def _users(self) -> None:
        for name, u in self.o.of("User").items():
            email = u.attrs.get("email")
            if not email:
                self.m.skip(u.origin, f"User {name}", "has no email (pager has no watchd channel)")
                self.m.count("User", "not translatable")
                continue
            self.m.contacts.append(
                ContactOut(name, u.origin, to_string(u.attrs.get("display_name")), (to_string(email),))
            )
            self.contacts.add(name)
            self.m.count("User", "imported")
        for g in self.o.of("UserGroup"):
            members = [n for n in self._group_members(g) if n in self.contacts]
            self.m.count("UserGroup", "imported" if members else "not translatable")

    def _group_members(self, g: str) -> list[str]:
        return [n for n, u in self.o.of("User").items() if g in (u.attrs.get("groups") or [])]

    def _timeperiods(self) -> None:
        periods: dict[str, Obj] = {}
        for name, tp in self.o.of("TimePeriod").items():
            obj = Obj("timeperiod", tp.origin)
            ranges = tp.attrs.get("ranges") or {}
            obj.timeranges = {
                " ".join(str(k).split()): Directive(to_string(v), tp.origin.line) for k, v in ranges.items()
            }
            excludes = tp.attrs.get("excludes") or []
            obj.values["exclude"] = ",".join(to_string(e) for e in excludes) or None
            periods[name] = obj
        for name, obj in periods.items():
            r = translate_period(name, obj, periods, self.years)
            for n in r.notes:
                self.m.note(obj.origin, f"TimePeriod {name}", n)
            if r.calendar is not None:
                self.m.calendars.append(r.calendar)
            elif r.is_24x7:
                self.m.note(obj.origin, f"TimePeriod {name}", "is watchd's 24x7 clock; no calendar needed")
            else:
                self.m.skip(obj.origin, f"TimePeriod {name}", r.skipped or "does not map")
            self.m.count("TimePeriod", "imported" if r.calendar or r.is_24x7 else "not translatable")

    def _notifications(self) -> None:
        for ad, file in self.ld.applies:
            if ad.type != "Notification":
                continue
            applied = self.o.applied(ad, file, ad.target or "Host")
            for h, sname, this in applied:
                users = [to_string(u) for u in this.get("users") or []]
                for g in this.get("user_groups") or []:
                    users.extend(self._group_members(to_string(g)))
                self.notify.setdefault((h.name, sname), []).extend(users)
                if this.get("interval") is not None:
                    self.renotify[float(this["interval"])] += 1
            self.m.count("apply Notification", "imported" if applied else "not needed")
        for n in self.o.of("Notification").values():
            host = to_string(n.attrs.get("host_name"))
            sname = n.attrs.get("service_name")
            users = [to_string(u) for u in n.attrs.get("users") or []]
            for g in n.attrs.get("user_groups") or []:
                users.extend(self._group_members(to_string(g)))
            self.notify.setdefault((host, to_string(sname) if sname else None), []).extend(users)
            self.m.count("Notification", "imported")
        self.o.objs.pop("Notification", None)

    # -- checks ---------------------------------------------------------------------------------------
    def _host(self, name: str, h: IObj) -> None:
        if self.host_only is not None:
            self.m.count("Host", "imported" if name == self.host_only else "not needed")
            if name == self.host_only and h.attrs.get("check_command"):
                self.m.note(h.origin, f"Host {name}", HOST_CHECK_LEFT_OUT)
            return
        if not h.attrs.get("check_command"):
            self.m.count("Host", "imported")
            return
        cname = self._unique(f"{check_name(name)}:host", h.origin)
        check = self._check(cname, h, None, f"Host {name}")
        if check is None:
            self.m.count("Host", "not translatable")
            return
        check.tags = (*[to_string(g) for g in h.attrs.get("groups") or []], f"host:{name}")
        self.by_host[name] = cname
        self.m.checks.append(check)
        self.m.count("Host", "imported")

    def _service(self, s: IObj) -> None:
        host = s.attrs["host_name"]
        subject = f"Service {host}!{s.name}"
        if self.host_only is not None and host != self.host_only:
            self.m.count("Service", "not needed")
            return
        h = self.o.of("Host").get(host)
        if h is None:
            self.m.skip(s.origin, subject, f"no Host {host!r}")
            self.m.count("Service", "not translatable")
            return
        base = check_name(s.name)
        cname = self._unique(base if self.host_only is not None else f"{check_name(host)}:{base}", s.origin)
        check = self._check(cname, h, s, subject)
        if check is None:
            self.m.count("Service", "not translatable")
            return
        tags = [to_string(g) for g in [*(h.attrs.get("groups") or []), *(s.attrs.get("groups") or [])]]
        if self.host_only is None:
            tags.append(f"host:{host}")
            if host in self.by_host:
                check.depends_on = (self.by_host[host],)
                check.comments.append(
                    "depends_on: Icinga holds back service notifications while the host is down"
                )
        check.tags = tuple(dict.fromkeys(tags))
        self.by_service[(host, s.name)] = cname
        self.m.checks.append(check)
        self.m.count("Service", "imported")

    def _check(self, cname: str, h: IObj, s: IObj | None, subject: str) -> Check | None:
        obj = s or h
        a = obj.attrs
        if a.get("enable_active_checks") is False:
            self.m.skip(
                obj.origin, subject, "passive only (enable_active_checks = false): watchd runs every check"
            )
            return None
        command_name = to_string(a.get("check_command"))
        command = self.o.command(command_name)
        if command is None:
            if command_name not in self.o.lazy:
                self.m.skip(obj.origin, subject, f"no CheckCommand {command_name!r}")
            return None
        resolvers = [*([("service", s.attrs)] if s else []), ("host", h.attrs), ("command", command.attrs)]
        try:
            argv, env = render_command(self.o.interp, command.attrs, resolvers, self._host_field)
        except (EvalError, NeedsShell) as exc:
            why = f"needs a shell: {exc}" if isinstance(exc, NeedsShell) else str(exc)
            self.m.skip(obj.origin, subject, f"CheckCommand {command_name} ({command.origin}): {why}")
            self.o.command_use.setdefault(command_name, "not translatable")
            return None
        self.o.command_use[command_name] = "imported"
        text = to_string(a.get("display_name")) or obj.name
        notes = to_string(a.get("notes"))
        check = Check(cname, argv, obj.origin, description=f"{text} — {notes}" if notes else text)
        check.comments.append(f"{subject}; CheckCommand {command_name} at {command.origin}")
        check.interval = float(a.get("check_interval") or 300.0)
        check.retry_interval = float(a.get("retry_interval") or 60.0)
        check.max_attempts = int(a.get("max_check_attempts") or 3)
        timeout = a.get("check_timeout") or command.attrs.get("timeout") or 60.0
        if float(timeout) != 60.0:
            check.timeout = float(timeout)
        check.env = env
        if a.get("enable_flapping") is True:
            check.flap_low = float(a.get("flapping_threshold_low") or 25.0)
            check.flap_high = float(a.get("flapping_threshold_high") or 30.0)
        else:
            check.flap_detection = False
        users = self.notify.get((h.name, s.name if s else None))
        if a.get("enable_notifications") is False or users is None:
            check.notify = ()
            why = (
                "notifications off"
                if a.get("enable_notifications") is False
                else "no Icinga Notification applies"
            )
            check.comments.append(f"{why}: notify: []")
        else:
            missing = sorted({u for u in users if u not in self.contacts})
            if missing:
                self.m.note(obj.origin, subject, f"users without email left out: {', '.join(missing)}")
            check.notify = tuple(dict.fromkeys(u for u in users if u in self.contacts))
        for key, why in (
            ("command_endpoint", "it ran on that agent: run watchd there"),
            ("event_command", "watchd runs no commands on state changes"),
            ("volatile", "watchd opens one incident per problem"),
        ):
            if a.get(key):
                self.m.note(obj.origin, subject, f"{key} {to_string(a.get(key))} left out: {why}")
        if a.get("check_period") and to_string(a.get("check_period")) != "24x7":
            self.m.note(obj.origin, subject, "check_period left out: watchd runs checks at all times")
        return check

    def _host_field(self, field_name: str, attrs: dict[str, Any]) -> str | None:
        """What `$host.address$`, `$host.address6$` and `$host.name$` become (icinga2_argv asks): with
        `host`, watchd's own; else a macro HOST_ADDRESS defined here, or the name itself."""
        value = attrs.get(field_name)
        if field_name != "name" and not value:
            return None
        hostname = to_string(attrs.get("name"))
        if self.host_only is not None:
            return {"address": ref("HOSTADDRESS"), "address6": "::1", "name": ref("HOSTNAME")}[field_name]
        if field_name == "name":
            return hostname
        macro = f"{macro_name(hostname)}_{'ADDRESS6' if field_name == 'address6' else 'ADDRESS'}"
        if macro not in self.m.macros:
            self.m.macros[macro] = Macro(
                macro,
                to_string(value),
                self.o.of("Host")[hostname].origin if hostname in self.o.of("Host") else Origin("?", 0),
                f"{field_name} of Icinga Host {hostname}",
            )
        return ref(macro)

    def _unique(self, name: str, origin: Origin) -> str:
        out, n = name, 2
        while out in self.names:
            out, n = f"{name}_{n}", n + 1
        if out != name:
            self.m.note(origin, name, f"the name was taken; this check is {out}")
        self.names.add(out)
        return out

    # -- dependencies ---------------------------------------------------------------------------------
    def _dependencies(self) -> None:
        rules: list[tuple[str, Origin, list[tuple[str, str | None, dict[str, Any]]]]] = []
        for ad, file in self.ld.applies:
            if ad.type == "Dependency":
                found = self.o.applied(ad, file, ad.target or "Host")
                rules.append(
                    ("apply Dependency", Origin(file, ad.line), [(h.name, s, t) for h, s, t in found])
                )
        for d in self.o.of("Dependency").values():
            a = d.attrs
            child_host = to_string(a.get("child_host_name"))
            rules.append(
                (
                    "Dependency",
                    d.origin,
                    [
                        (
                            child_host,
                            to_string(a["child_service_name"]) if a.get("child_service_name") else None,
                            a,
                        )
                    ],
                )
            )
        self.o.objs.pop("Dependency", None)
        for kind, origin, links in rules:
            edges = 0
            for host, svc, this in links:
                if this.get("disable_notifications") is False:
                    continue
                ph = to_string(this.get("parent_host_name"))
                ps = this.get("parent_service_name")
                child = self.by_service.get((host, svc)) if svc else self.by_host.get(host)
                parent = self.by_service.get((ph, to_string(ps))) if ps else self.by_host.get(ph)
                if child and parent and child != parent:
                    check = next(c for c in self.m.checks if c.name == child)
                    if parent not in check.depends_on:
                        check.depends_on = (*check.depends_on, parent)
                        check.comments.append(f"depends_on {parent}: {kind} at {origin}")
                    edges += 1
                if this.get("disable_checks"):
                    self.m.note(origin, kind, "disable_checks left out: watchd runs dependent checks anyway")
            if edges:
                self.m.count(kind, "imported")
            else:
                self.m.count(kind, "not translatable")
                self.m.skip(origin, kind, "links no imported checks (with --host: only checks of that host)")


def translate_icinga2(
    loaded: Loaded, host: str | None = None, years: tuple[int, ...] = (2026, 2027)
) -> Migration:
    m = _Translation(loaded, host, years).run()
    m.inputs = tuple(loaded.files)
    return m


def import_icinga2(
    path: str, host: str | None = None, node_name: str | None = None, years: tuple[int, ...] = (2026, 2027)
) -> Migration:
    """Read icinga2.conf (or a .conf file or directory) with its includes and translate it. `NodeName` is
    this machine's name unless given, as in Icinga 2."""
    path = os.path.abspath(path)
    loaded = load_icinga2(path, node_name or socket.getfqdn())
    return translate_icinga2(loaded, host, years)
