"""Evaluated Icinga 2 objects -> a watchd `Migration`. Pure apart from `import_icinga2`, which loads files.

Objects are evaluated as Icinga does (imports run in place, then apply rules against every host and
service); a check's argv is built as MacroProcessor::ResolveArguments builds it: the command array, then
the `arguments` sorted by `order` (ties in key order), each skipped when its macro is missing or its
`set_if` is false, `value`, `skip_key`, `repeat_key`, `separator`, `required`. Macros resolve through
service, host, command (vars first, then attributes), lambdas run with `macro()`. Checks are placed as for
Nagios (nagios_translate): every host's services, or one host's with `host`.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from watchd.migrate.commandline import NeedsShell, ref, shell_quote, split, word
from watchd.migrate.icinga2_eval import EvalError, Function, Symbol, Untranslatable, to_string, truthy
from watchd.migrate.icinga2_load import Loaded, load_icinga2
from watchd.migrate.icinga2_parse import ApplyDef, ObjectDef, Where
from watchd.migrate.model import Check, ContactOut, Macro, Migration, Origin
from watchd.migrate.nagios_objects import Obj
from watchd.migrate.nagios_parse import Directive
from watchd.migrate.nagios_translate import HOST_CHECK_LEFT_OUT, check_name, macro_name, plugin_name
from watchd.migrate.timeperiods import translate_period

_RUNTIME = {
    "state", "state_id", "state_type", "last_state", "last_state_id", "last_state_type", "last_state_change",
    "last_hard_state", "last_hard_state_id", "last_check", "next_check", "output", "perfdata",
    "check_attempt", "duration_sec", "latency", "execution_time", "downtime_depth", "acknowledgement",
    "last_check_result", "is_flapping", "check_source", "num_services", "total_services",
}  # fmt: skip
_NOT_NEEDED = {
    "NotificationCommand", "EventCommand", "Zone", "Endpoint", "ApiUser", "ApiListener", "CheckerComponent",
    "NotificationComponent", "IcingaApplication", "FileLogger", "SyslogLogger", "JournaldLogger",
    "IdoMysqlConnection", "IdoPgsqlConnection", "GraphiteWriter", "InfluxdbWriter", "Influxdb2Writer",
    "ElasticsearchWriter", "GelfWriter", "OpenTsdbWriter", "PerfdataWriter", "StatusDataWriter",
    "CompatLogger", "ExternalCommandListener", "LivestatusListener", "IcingaDB", "CheckResultReader",
}  # fmt: skip


@dataclass(slots=True)
class IObj:
    type: str
    name: str
    attrs: dict[str, Any]
    origin: Origin
    wheres: list[Where] = field(default_factory=list)
    file: str = ""


class _Icinga:
    def __init__(self, loaded: Loaded, host: str | None, years: tuple[int, ...]) -> None:
        self.ld, self.interp, self.host_only, self.years = loaded, loaded.interp, host, years
        self.m = Migration("icinga2", host=host)
        self.m.findings.extend(loaded.problems)
        self.objs: dict[str, dict[str, IObj]] = {}
        self.services: list[IObj] = []
        self.names: set[str] = set()
        self.by_service: dict[tuple[str, str], str] = {}
        self.by_host: dict[str, str] = {}
        self.command_use: dict[str, str] = {}
        self.lazy: dict[str, tuple[ObjectDef, str]] = {}
        self.contacts: set[str] = set()
        self.notify: dict[tuple[str, str | None], list[str]] = {}  # (host, service|None) -> users
        self.renotify: Counter[float] = Counter()

    def of(self, kind: str) -> dict[str, IObj]:
        return self.objs.setdefault(kind, {})

    # -- evaluation -----------------------------------------------------------------------------------
    def evaluate(self) -> None:
        for od, file in self.ld.objects:
            self._object(od, file)
        hosts = list(self.of("Host").values())
        for ad, file in self.ld.applies:
            if ad.type == "Service":
                self._apply_service(ad, file, hosts)
        self.m.count("Template", "not needed", self.ld.templates)

    def _object(self, od: ObjectDef, file: str) -> None:
        origin = Origin(file, od.line)
        try:
            name = to_string(self.interp.eval(od.name, {}, {}, file))
        except EvalError as exc:
            self.m.skip(origin, f"object {od.type}", str(exc))
            return
        if od.type == "CheckCommand":  # the ITL defines hundreds: evaluate the ones checks use
            self.lazy.setdefault(name, (od, file))
            return
        obj = self._evaluate(od, file, name)
        if obj is None:
            self.m.count(od.type, "not translatable")
            return
        if od.type == "Service":
            host = to_string(obj.attrs.get("host_name"))
            obj.attrs["host_name"] = host
            self.services.append(obj)
        else:
            self.of(od.type).setdefault(name, obj)

    def _evaluate(self, od: ObjectDef, file: str, name: str) -> IObj | None:
        this: dict[str, Any] = {"name": name, "vars": {}}
        try:
            self.interp.run_body(od.body, this, {}, file, od.type)
        except EvalError as exc:
            self.m.skip(Origin(file, exc.line or od.line), f"{od.type} {name}", str(exc))
            return None
        return IObj(
            od.type, name, this, Origin(file, od.line), [s for s in od.body if isinstance(s, Where)], file
        )

    def command(self, name: str) -> IObj | None:
        if name not in self.of("CheckCommand") and name in self.lazy:
            od, file = self.lazy[name]
            obj = self._evaluate(od, file, name)
            if obj is not None:
                self.of("CheckCommand")[name] = obj
            else:
                self.command_use[name] = "not translatable"
        return self.of("CheckCommand").get(name)

    def _apply_service(self, ad: ApplyDef, file: str, hosts: list[IObj]) -> None:
        origin = Origin(file, ad.line)
        count = 0
        for h in hosts:
            local: dict[str, Any] = {"host": h.attrs}
            try:
                for name, extra in self._instances(ad, file, local):
                    this: dict[str, Any] = {"name": name, "host_name": h.name, "vars": {}}
                    self.interp.run_body(ad.body, this, {**local, **extra}, file, "Service")
                    self.services.append(IObj("Service", name, this, origin, [], file))
                    count += 1
            except EvalError as exc:
                self.m.skip(Origin(file, exc.line or ad.line), f"apply Service on {h.name}", str(exc))
                self.m.count("Service", "not translatable")
        if count == 0:
            self.m.note(origin, "apply Service", "matches no host")

    def _instances(self, ad: ApplyDef, file: str, local: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The (name, loop variables) an apply rule creates for the object in `local`, after assign/ignore."""
        prefix = to_string(self.interp.eval(ad.name, {}, local, file)) if ad.name else ""
        pairs: list[tuple[str, dict[str, Any]]] = []
        if ad.for_iter is not None:
            items = self.interp.eval(ad.for_iter, {}, local, file)
            if isinstance(items, dict):
                for k, v in items.items():
                    pairs.append(
                        (
                            prefix + to_string(k),
                            {ad.for_key or "": k, **({ad.for_value: v} if ad.for_value else {})},
                        )
                    )
            elif isinstance(items, list):
                for v in items:
                    pairs.append((prefix + to_string(v), {ad.for_key or "": v}))
        else:
            pairs.append((prefix, {}))
        out = []
        wheres = [s for s in ad.body if isinstance(s, Where)]
        for name, extra in pairs:
            scope = {**local, **extra}
            if self._matches(wheres, scope, file, default=ad.for_iter is not None):
                out.append((name, extra))
        return out

    def _matches(self, wheres: list[Where], local: dict[str, Any], file: str, default: bool) -> bool:
        assigns = [w for w in wheres if w.assign]
        ignores = [w for w in wheres if not w.assign]
        ok = any(truthy(self.interp.eval(w.cond, {}, local, file)) for w in assigns) if assigns else default
        return ok and not any(truthy(self.interp.eval(w.cond, {}, local, file)) for w in ignores)

    def _applied(self, ad: ApplyDef, file: str, target: str) -> list[tuple[IObj, str | None, dict[str, Any]]]:
        """(host, service name or None, evaluated body) for a Notification/Dependency/Downtime rule."""
        out = []
        targets: list[tuple[IObj, IObj | None]] = []
        if target == "Host":
            targets = [(h, None) for h in self.of("Host").values()]
        else:
            targets = [
                (self.of("Host")[s.attrs["host_name"]], s)
                for s in self.services
                if s.attrs["host_name"] in self.of("Host")
            ]
        for h, s in targets:
            local: dict[str, Any] = {"host": h.attrs, **({"service": s.attrs} if s else {})}
            try:
                for name, extra in self._instances(ad, file, local):
                    this: dict[str, Any] = {"name": name, "vars": {}}
                    self.interp.run_body(ad.body, this, {**local, **extra}, file, ad.type)
                    out.append((h, s.name if s else None, this))
            except EvalError as exc:
                self.m.skip(Origin(file, exc.line or ad.line), f"apply {ad.type} on {h.name}", str(exc))
        return out

    # -- translation ----------------------------------------------------------------------------------
    def run(self) -> Migration:
        self.evaluate()
        self.m.hosts = list(self.of("Host"))
        self._groups()
        self._users()
        self._timeperiods()
        self._notifications()
        if self.host_only is not None and self.host_only not in self.of("Host"):
            self.m.skip(None, f"--host {self.host_only}", "no such Host object")
        for name, h in self.of("Host").items():
            self._host(name, h)
        for s in self.services:
            self._service(s)
        self._dependencies()
        for kind, objs in self.objs.items():
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
            for g in self.of(kind):
                self.m.count(kind, "imported" if g in used else "not needed")
        for name in self.lazy:
            self.m.count("CheckCommand", self.command_use.get(name, "not needed"))
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

    def _groups(self) -> None:
        hosts = self.of("Host")
        for g, obj in self.of("HostGroup").items():
            for h in hosts.values():
                if obj.wheres and self._safe_match(obj.wheres, {"host": h.attrs}, obj.file):
                    h.attrs.setdefault("groups", [])
                    if g not in h.attrs["groups"]:
                        h.attrs["groups"] = [*h.attrs["groups"], g]
        for g, obj in self.of("ServiceGroup").items():
            for s in self.services:
                sh = hosts.get(s.attrs["host_name"])
                if (
                    sh
                    and obj.wheres
                    and self._safe_match(obj.wheres, {"host": sh.attrs, "service": s.attrs}, obj.file)
                ):
                    s.attrs["groups"] = [*(s.attrs.get("groups") or []), g]
        for g, obj in self.of("UserGroup").items():
            for u in self.of("User").values():
                if obj.wheres and self._safe_match(obj.wheres, {"user": u.attrs}, obj.file):
                    u.attrs["groups"] = [*(u.attrs.get("groups") or []), g]

    def _safe_match(self, wheres: list[Where], local: dict[str, Any], file: str) -> bool:
        try:
            return self._matches(wheres, local, file, default=False)
        except EvalError:
            return False

    def _users(self) -> None:
        for name, u in self.of("User").items():
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
        for g in self.of("UserGroup"):
            members = [
                n
                for n, u in self.of("User").items()
                if g in (u.attrs.get("groups") or []) and n in self.contacts
            ]
            self.m.count("UserGroup", "imported" if members else "not translatable")

    def _group_members(self, g: str) -> list[str]:
        return [n for n, u in self.of("User").items() if g in (u.attrs.get("groups") or [])]

    def _timeperiods(self) -> None:
        periods: dict[str, Obj] = {}
        for name, tp in self.of("TimePeriod").items():
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
            applied = self._applied(ad, file, ad.target or "Host")
            for h, sname, this in applied:
                users = [to_string(u) for u in this.get("users") or []]
                for g in this.get("user_groups") or []:
                    users.extend(self._group_members(to_string(g)))
                self.notify.setdefault((h.name, sname), []).extend(users)
                if this.get("interval") is not None:
                    self.renotify[float(this["interval"])] += 1
            self.m.count("apply Notification", "imported" if applied else "not needed")
        for n in self.of("Notification").values():
            host = to_string(n.attrs.get("host_name"))
            sname = n.attrs.get("service_name")
            users = [to_string(u) for u in n.attrs.get("users") or []]
            for g in n.attrs.get("user_groups") or []:
                users.extend(self._group_members(to_string(g)))
            self.notify.setdefault((host, to_string(sname) if sname else None), []).extend(users)
            self.m.count("Notification", "imported")
        self.objs.pop("Notification", None)

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
        h = self.of("Host").get(host)
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
        command = self.command(command_name)
        if command is None:
            if command_name not in self.lazy:
                self.m.skip(obj.origin, subject, f"no CheckCommand {command_name!r}")
            return None
        resolvers = [*([("service", s.attrs)] if s else []), ("host", h.attrs), ("command", command.attrs)]
        try:
            argv, env = self._render(command, resolvers, h)
        except (EvalError, NeedsShell) as exc:
            why = f"needs a shell: {exc}" if isinstance(exc, NeedsShell) else str(exc)
            self.m.skip(obj.origin, subject, f"CheckCommand {command_name} ({command.origin}): {why}")
            self.command_use.setdefault(command_name, "not translatable")
            return None
        self.command_use[command_name] = "imported"
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

    # -- command lines --------------------------------------------------------------------------------
    def _render(
        self, command: IObj, resolvers: list[tuple[str, dict[str, Any]]], h: IObj
    ) -> tuple[tuple[str, ...], dict[str, str]]:
        c = command.attrs
        cmd = c.get("command")
        if cmd is None:
            raise Untranslatable(f"an Icinga 2 internal check (execute = {to_string(c.get('execute'))})")
        self._h = h
        args_spec = c.get("arguments")
        if isinstance(cmd, str) and not args_spec:
            line, _ = self._resolve(cmd, resolvers, quote=True)
            argv = list(split(to_string(line)))
        elif isinstance(cmd, str):
            argv = [word(cmd)]
        else:
            argv = []
            for item in cmd if isinstance(cmd, list) else [cmd]:
                v, _ = self._resolve(item, resolvers)
                argv.append(word(to_string(v)))
        if isinstance(args_spec, dict):
            argv.extend(word(x) for x in self._arguments(args_spec, resolvers))
        argv[0] = plugin_name(argv[0])
        env: dict[str, str] = {}
        for k, v in (c.get("env") or {}).items():
            val, missing = self._resolve(v, resolvers)
            if not missing:
                env[str(k)] = word(to_string(val))
        return tuple(argv), env

    def _arguments(self, spec: dict[str, Any], resolvers: list[tuple[str, dict[str, Any]]]) -> list[str]:
        args: list[tuple[float, str, Any, bool, bool, bool, Any]] = []
        for key in sorted(spec):
            info = spec[key]
            k, skip_key, repeat_key, order, sep = key, False, True, 0.0, None
            if isinstance(info, dict):
                k = to_string(info.get("key", key))
                value = info.get("value")
                required = truthy(info.get("required"))
                skip_key, repeat_key = truthy(info.get("skip_key")), truthy(info.get("repeat_key", True))
                order, sep = float(info.get("order") or 0), info.get("separator")
                if info.get("set_if") is not None:
                    cond, missing = self._resolve(info["set_if"], resolvers)
                    if missing or not _set_if(cond):
                        continue
            else:
                value, required = info, False
            skip_value = value is None or value == ""
            resolved, missing = self._resolve(value, resolvers) if not skip_value else (None, False)
            if missing:
                if required:
                    raise Untranslatable(f"argument {k}: its required macro is not set")
                continue
            args.append((order, k, resolved, skip_key, repeat_key, skip_value, sep))
        out: list[str] = []
        for _order, k, v, skip_key, repeat_key, skip_value, sep in sorted(args, key=lambda a: a[0]):
            if isinstance(v, dict):
                continue
            values = v if isinstance(v, list) else [v]
            for i, item in enumerate(values):
                add_key = not skip_key and (i == 0 or repeat_key)
                text = to_string(item)
                if add_key and sep is not None and not skip_value:
                    out.append(k + to_string(sep) + text)
                else:
                    if add_key:
                        out.append(k)
                    if not skip_value:
                        out.append(text)
        return out

    def _resolve(
        self, value: Any, resolvers: list[tuple[str, dict[str, Any]]], quote: bool = False, depth: int = 0
    ) -> tuple[Any, bool]:
        """InternalResolveMacros(): (value, a macro was missing). A lone macro keeps its type."""
        if depth > 15:
            raise EvalError("macros refer to each other in a loop")
        if isinstance(value, Function):
            return self.interp.call_function(
                value, lambda s: self._resolve(s, resolvers, depth=depth + 1)[0]
            ), False
        if isinstance(value, list):
            items = [self._resolve(v, resolvers, depth=depth + 1) for v in value]
            return [v for v, _ in items], any(m for _, m in items)
        if not isinstance(value, str) or isinstance(value, Symbol):
            return value, False
        text, missing, pos = str(value), False, 0
        while (first := text.find("$", pos)) >= 0:
            second = text.find("$", first + 1)
            if second < 0:
                raise Untranslatable(f"closing $ not found in {text!r}")
            name = text[first + 1 : second]
            v: Any
            if name == "":
                found, v = True, "$"
            else:
                found, v, recursive = self._macro(name, resolvers)
                if isinstance(v, Function):
                    v = self.interp.call_function(
                        v, lambda s: self._resolve(s, resolvers, depth=depth + 1)[0]
                    )
                if recursive and isinstance(v, (str, list)) and not isinstance(v, Symbol):
                    v, inner = self._resolve(v, resolvers, depth=depth + 1)
                    missing = missing or inner
            if not found:
                missing = True
                v = None
            if first == 0 and second == len(text) - 1 and not quote:
                return v, missing
            piece = shell_quote(to_string(v)) if quote and name else to_string(v)
            text = text[:first] + piece + text[second + 1 :]
            pos = first + len(piece)
        return text, missing

    def _macro(self, name: str, resolvers: list[tuple[str, dict[str, Any]]]) -> tuple[bool, Any, bool]:
        tokens = name.split(".")
        objname = tokens.pop(0) if len(tokens) > 1 else None
        if objname == "icinga":
            raise Untranslatable(f"${name}$ is Icinga 2 run-time data")
        for rname, attrs in resolvers:
            if objname is not None and objname != rname:
                continue
            if objname is None and name in (attrs.get("vars") or {}):
                return True, attrs["vars"][name], True
            runtime = tokens[0] in _RUNTIME or tokens[0].startswith(("num_services", "last_"))
            if runtime and rname in ("host", "service"):
                raise Untranslatable(f"${name}$ is run-time state with no watchd equivalent")
            if rname == "host" and tokens in (["address"], ["address6"], ["name"]):
                mapped = self._host_field(tokens[0], attrs)
                if mapped is not None:
                    return True, mapped, False
                continue
            cur: Any = attrs
            for tok in tokens:
                if isinstance(cur, dict) and tok in cur:
                    cur = cur[tok]
                else:
                    cur = None
                    break
            else:
                return True, cur, tokens[0] in ("vars", "notes", "notes_url", "action_url")
        return False, None, False

    def _host_field(self, field_name: str, attrs: dict[str, Any]) -> str | None:
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
                self.of("Host")[hostname].origin if hostname in self.of("Host") else Origin("?", 0),
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
                found = self._applied(ad, file, ad.target or "Host")
                rules.append(
                    ("apply Dependency", Origin(file, ad.line), [(h.name, s, t) for h, s, t in found])
                )
        for d in self.of("Dependency").values():
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
        self.objs.pop("Dependency", None)
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


def _set_if(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = to_string(value)
    if text in ("true", "false"):
        return text == "true"
    try:
        return float(text) != 0
    except ValueError:
        return False


def translate_icinga2(
    loaded: Loaded, host: str | None = None, years: tuple[int, ...] = (2026, 2027)
) -> Migration:
    m = _Icinga(loaded, host, years).run()
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
