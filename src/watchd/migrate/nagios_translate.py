"""Resolved Nagios objects -> a watchd `Migration`: checks, macros, contacts, calendars, findings. Pure.

Two ways to place checks (docs/migration.md): by default every host's services become checks of the one
watchd that reads the result, named `HOST:service`, with each host's address in a macro `HOST_ADDRESS`
(watchd as the central poller Nagios was); with `host`, only that host's services, named `service`, with
`$HOSTADDRESS$`/`$HOSTNAME$` left to watchd (the checks run on the host itself).

About 530 lines: one pass whose steps (contacts, hosts, services, notifications, dependencies) share the
Migration and the check names handed out so far, and read best together; the parts that stand alone
(objects, macros, time periods, command lines) are modules of their own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from watchd.config import DEFAULT_PLUGIN_DIRS
from watchd.migrate.commandline import NeedsShell, literal, ref, split
from watchd.migrate.model import Check, ContactOut, Macro, Migration, Origin
from watchd.migrate.nagios_macros import STANDARD, Untranslatable, expand, split_check_command
from watchd.migrate.nagios_objects import Obj, Objects, ServiceInstance, expand_hosts
from watchd.migrate.timeperiods import translate_period

_USER = re.compile(r"^USER(\d{1,3})$")
_ARG = re.compile(r"^ARG(\d{1,2})$")
_CHECK_NAME = re.compile(r"[^a-z0-9_.-]+")
_SERVICE_OPTIONS, _HOST_OPTIONS = set("wucr"), set("dur")
HOST_CHECK_LEFT_OUT = (
    "host check left out: this host runs watchd itself; a host that goes silent is the fleet watch's job "
    "(docs/mqtt.md)"
)
_TIMEOUT_STATES = {"c": "CRITICAL", "u": "UNKNOWN", "w": "WARNING", "o": "OK"}
_DEPENDENCY_STATES = {"servicedependency": set("wuc"), "hostdependency": set("du")}


@dataclass(frozen=True, slots=True)
class Settings:
    """nagios.cfg values that change what a check means, and the importer's options."""

    interval_length: float = 60.0
    service_check_timeout: float = 60.0
    host_check_timeout: float = 30.0
    timeout_state: str = "c"
    flap_detection: bool = True
    host: str | None = None  # import this host's services only, to run on that host
    years: tuple[int, ...] = (2026, 2027)
    resources: dict[str, tuple[str, Origin]] = field(default_factory=dict)


def check_name(text: str) -> str:
    """A watchd check name from a service description: lower case, `_` for blanks, `/` alone is root."""
    text = re.sub(r"(^|\s)/(?=\s|$)", r"\1root", text.strip().lower())
    return _CHECK_NAME.sub("_", text).strip("_.-") or "check"


def macro_name(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_") or "HOST"


class _Translator:
    def __init__(self, objs: Objects, settings: Settings) -> None:
        self.objs, self.s = objs, settings
        self.m = Migration("nagios", host=settings.host)
        self.names: set[str] = set()
        self.command_use: dict[str, str] = {}  # command -> "imported" | "not translatable"
        self.by_service: dict[tuple[str, str], str] = {}  # (host, description) -> check name
        self.by_host: dict[str, str] = {}  # host -> host check name
        self.contacts: set[str] = set()
        self.renotify: Counter[float] = Counter()

    # -- the whole run -------------------------------------------------------------------------------
    def run(self) -> Migration:
        m = self.m
        m.hosts = list(self.objs.of("host"))
        for p in self.objs.problems:
            m.findings.append(p)
        if self.s.host is not None and self.s.host not in self.objs.of("host"):
            m.skip(None, f"--host {self.s.host}", "no such host in the Nagios configuration")
        self._contacts()
        self._timeperiods()
        self._hosts()
        for inst in self.objs.services:
            self._service(inst)
        for obj in self.objs.unassigned_services:
            if not any(i.obj is obj for i in self.objs.services):
                m.count("service", "not translatable")
        self._dependencies()
        for esc in self.objs.escalations:
            if esc.type.endswith("extinfo"):
                m.count(esc.type, "not needed")
                continue
            m.count(esc.type, "not translatable")
            m.skip(esc.origin, esc.type, "watchd escalates by priority (notify.escalation), not per check")
        for kind in ("hostgroup", "servicegroup"):
            used = {t for c in m.checks for t in c.tags}
            for g in self.objs.of(kind):
                m.count(kind, "imported" if g in used else "not needed")
        for name in self.objs.of("command"):
            m.count("command", self.command_use.get(name, "not needed"))
        m.count("template", "not needed", self.objs.templates)
        if self.renotify:
            interval, n = self.renotify.most_common(1)[0]
            m.renotify_interval = interval
            if len(self.renotify) > 1:
                others = ", ".join(f"{_minutes(i)} ({c})" for i, c in self.renotify.items() if i != interval)
                took = f"took {_minutes(interval)} ({n} checks), others: {others}"
                m.note(None, "notification_interval", f"watchd has one renotify_interval; {took}")
        return m

    # -- contacts and time periods ------------------------------------------------------------------
    def _contacts(self) -> None:
        for name, c in self.objs.of("contact").items():
            email = c.get("email")
            if not email:
                self.m.count("contact", "not translatable")
                self.m.skip(
                    c.origin, f"contact {name}", "has no email (pager and addressN have no watchd channel)"
                )
                continue
            if c.get("pager"):
                self.m.note(
                    c.at("pager"), f"contact {name}", "pager left out: watchd has email, webhook, mqtt"
                )
            self.m.contacts.append(ContactOut(name, c.origin, c.get("alias") or "", (email,)))
            self.contacts.add(name)
            self.m.count("contact", "imported")
        for g in self.objs.of("contactgroup"):
            members = [c for c in self.objs.contactgroup_members.get(g, []) if c in self.contacts]
            self.m.count("contactgroup", "imported" if members else "not translatable")

    def _timeperiods(self) -> None:
        periods = self.objs.of("timeperiod")
        for name, tp in periods.items():
            r = translate_period(name, tp, periods, self.s.years)
            subject = f"timeperiod {name}"
            for n in r.notes:
                self.m.note(tp.origin, subject, n)
            if r.calendar is not None:
                self.m.calendars.append(r.calendar)
                self.m.count("timeperiod", "imported")
            elif r.is_24x7:
                self.m.note(tp.origin, subject, "is watchd's 24x7 clock; no calendar needed")
                self.m.count("timeperiod", "imported")
            else:
                self.m.skip(tp.origin, subject, r.skipped or "does not map")
                self.m.count("timeperiod", "not translatable")

    def _is_24x7(self, period: str | None) -> bool:
        tp = self.objs.of("timeperiod").get(period or "")
        if period is None or tp is None:
            return True
        return translate_period(period, tp, self.objs.of("timeperiod"), self.s.years).is_24x7

    # -- hosts ---------------------------------------------------------------------------------------
    def _hosts(self) -> None:
        for host, h in self.objs.of("host").items():
            subject = f"host {host}"
            if self.s.host is not None:
                self.m.count("host", "imported" if host == self.s.host else "not needed")
                if host == self.s.host and h.get("check_command"):
                    self.m.note(h.at("check_command"), subject, HOST_CHECK_LEFT_OUT)
                continue
            if not h.get("check_command"):
                self.m.count("host", "imported")
                continue
            name = self._unique(f"{check_name(host)}:host", h.origin)
            check = self._check(name, h, None, host, subject, self.s.host_check_timeout)
            if check is None:
                self.m.count("host", "not translatable")
                continue
            check.tags = tuple(dict.fromkeys([*self.objs.host_groups.get(host, []), f"host:{host}"]))
            self.by_host[host] = name
            self.m.checks.append(check)
            self.m.count("host", "imported")
        for host, name in self.by_host.items():
            parents = [
                self.by_host[p] for p in self.objs.of("host")[host].items("parents") if p in self.by_host
            ]
            check = next(c for c in self.m.checks if c.name == name)
            if parents:
                check.depends_on = tuple(parents)
                check.comments.append("depends_on: the Nagios parents of this host")

    # -- services ------------------------------------------------------------------------------------
    def _service(self, inst: ServiceInstance) -> None:
        subject = f"service {inst.host}/{inst.description}"
        if self.s.host is not None and inst.host != self.s.host:
            self.m.count("service", "not needed")
            return
        obj = inst.obj
        base = check_name(inst.description)
        name = self._unique(
            base if self.s.host is not None else f"{check_name(inst.host)}:{base}", obj.origin
        )
        check = self._check(name, obj, inst, inst.host, subject, self.s.service_check_timeout)
        if check is None:
            self.m.count("service", "not translatable")
            return
        groups = [
            *self.objs.host_groups.get(inst.host, []),
            *self.objs.service_groups.get((inst.host, inst.description), []),
        ]
        if self.s.host is None:
            groups.append(f"host:{inst.host}")
            if inst.host in self.by_host:
                check.depends_on = (self.by_host[inst.host],)
                check.comments.append(
                    "depends_on: Nagios holds back service notifications while the host is down"
                )
        check.tags = tuple(dict.fromkeys(groups))
        self.by_service[(inst.host, inst.description)] = name
        self.m.checks.append(check)
        self.m.count("service", "imported")

    def _check(
        self, name: str, obj: Obj, inst: ServiceInstance | None, host: str, subject: str, timeout: float
    ) -> Check | None:
        """The common part of host and service checks; None (and a finding) when it cannot be run."""
        m = self.m
        if obj.get("active_checks_enabled") == "0":
            why = "watchd runs every check itself and takes no passive results"
            m.skip(obj.at("active_checks_enabled"), subject, f"passive only (active_checks_enabled 0): {why}")
            return None
        cc = obj.get("check_command")
        if not cc:
            m.skip(obj.origin, subject, "has no check_command")
            return None
        command_name, args = split_check_command(cc)
        command = self.objs.of("command").get(command_name)
        if command is None or not command.get("command_line"):
            m.skip(obj.at("check_command"), subject, f"no command {command_name!r}")
            return None
        hobj = self.objs.of("host")[host]
        try:
            argv = self._argv(command.get("command_line") or "", args, hobj, inst)
        except (NeedsShell, Untranslatable) as exc:
            why = f"needs a shell: {exc}" if isinstance(exc, NeedsShell) else str(exc)
            m.skip(command.at("command_line"), subject, f"command {command_name}: {why}")
            self.command_use.setdefault(command_name, "not translatable")
            return None
        self.command_use[command_name] = "imported"
        il = self.s.interval_length
        check = Check(name, argv, obj.origin, description=self._description(obj, inst, host))
        check.comments.append(f"{subject}; command {command_name} at {command.at('command_line')}")
        check.interval = _number(obj.get("check_interval"), 5.0) * il
        check.retry_interval = _number(obj.get("retry_interval"), 1.0) * il
        attempts = obj.get("max_check_attempts")
        if attempts and attempts.isdigit() and int(attempts) > 0:
            check.max_attempts = int(attempts)
        else:
            m.note(obj.origin, subject, "no max_check_attempts; watchd's default (3) applies")
        if timeout != 60.0:
            check.timeout = timeout
        if self.s.timeout_state in _TIMEOUT_STATES and self.s.timeout_state != "c":
            check.timeout_state = _TIMEOUT_STATES[self.s.timeout_state]
        if check.interval <= 0:
            check.interval = 5 * il
            m.note(obj.at("check_interval"), subject, "check_interval 0 (never) became 5 intervals")
        if check.retry_interval <= 0:
            check.retry_interval = check.interval
        flap = obj.get("flap_detection_enabled")
        if flap == "0" or not self.s.flap_detection:
            check.flap_detection = False
        for key, attr in (("low_flap_threshold", "flap_low"), ("high_flap_threshold", "flap_high")):
            v = _number(obj.get(key), 0.0)
            if v > 0:
                setattr(check, attr, v)
        self._notifications(check, obj, inst, hobj, subject)
        self._unmapped(obj, subject)
        if any(a == "" for a in argv):
            check.comments.append(
                "an empty argument (an unset $ARGn$ in quotes) is passed on, as Nagios does"
            )
        return check

    def _description(self, obj: Obj, inst: ServiceInstance | None, host: str) -> str:
        text = obj.get("display_name") or (inst.description if inst else obj.get("alias") or host)
        notes = obj.get("notes")
        return f"{text} — {notes}" if notes else text

    def _argv(self, line: str, args: list[str], host: Obj, inst: ServiceInstance | None) -> tuple[str, ...]:
        def base(name: str) -> str | None:
            return self._macro(name, host, inst, [])

        values = [expand(a, base) for a in args]
        text = expand(line, lambda name: self._macro(name, host, inst, values))
        argv = list(split(text))
        m = re.match(r"^\$NAGIOS_(USER\d+)\$(.*)$", argv[0])
        if m and m.group(1) in self.s.resources:
            path = self.s.resources[m.group(1)][0] + m.group(2)
            argv[0] = literal(plugin_name(path))
        elif "/" in argv[0]:
            argv[0] = plugin_name(argv[0])
        for item in argv:
            for used in re.findall(r"\$(NAGIOS_USER\d+|[A-Z0-9_]+_ADDRESS)\$", item):
                self._define_macro(used, host)
        return tuple(argv)

    def _macro(self, name: str, host: Obj, inst: ServiceInstance | None, args: list[str]) -> str | None:
        svc = inst.obj if inst else None
        hostname = host.get("host_name") or ""
        if m := _ARG.match(name):
            n = int(m.group(1))
            return args[n - 1] if 0 < n <= len(args) else ""
        if m := _USER.match(name):
            if name not in self.s.resources:
                raise Untranslatable(f"${name}$ is not set in any resource file")
            return ref(f"NAGIOS_{name}")
        central = self.s.host is None
        if name == "HOSTADDRESS":
            return ref(f"{macro_name(hostname)}_ADDRESS") if central else ref("HOSTADDRESS")
        if name == "HOSTNAME":
            return hostname if central else ref("HOSTNAME")
        static: dict[str, Callable[[], str | None]] = {
            "HOSTALIAS": lambda: host.get("alias") or hostname,
            "HOSTDISPLAYNAME": lambda: host.get("display_name") or hostname,
            "HOSTNOTES": lambda: host.get("notes") or "",
            "HOSTGROUPNAMES": lambda: ",".join(self.objs.host_groups.get(hostname, [])),
            "HOSTGROUPNAME": lambda: (self.objs.host_groups.get(hostname) or [""])[0],
            "MAXHOSTATTEMPTS": lambda: host.get("max_check_attempts") or "",
            "SERVICEDESC": lambda: inst.description if inst else None,
            "SERVICEDISPLAYNAME": lambda: (
                (svc.get("display_name") or inst.description) if svc and inst else None
            ),
            "SERVICENOTES": lambda: (svc.get("notes") or "") if svc else None,
            "MAXSERVICEATTEMPTS": lambda: (svc.get("max_check_attempts") or "") if svc else None,
        }
        if name in static:
            value = static[name]()
            if value is None:
                raise Untranslatable(f"${name}$ has no value in a host check")
            return value
        if name.startswith("_HOST") and name[5:] in host.custom:
            return host.custom[name[5:]]
        if name.startswith("_SERVICE") and svc is not None and name[8:] in svc.custom:
            return svc.custom[name[8:]]
        if name in STANDARD or name.startswith(("_HOST", "_SERVICE", "_CONTACT")) or ":" in name:
            raise Untranslatable(f"${name}$ is Nagios run-time or on-demand data with no watchd equivalent")
        return None

    def _define_macro(self, name: str, host: Obj) -> None:
        if name in self.m.macros:
            return
        if name.startswith("NAGIOS_USER"):
            value, origin = self.s.resources[name.removeprefix("NAGIOS_")]
            comment = (
                f"${name.removeprefix('NAGIOS_')}$ from {origin}: keep this file as private as resource.cfg"
            )
            self.m.macros[name] = Macro(name, value, origin, comment)
            return
        for hname, h in self.objs.of("host").items():
            if f"{macro_name(hname)}_ADDRESS" == name:
                addr = h.get("address") or hname
                self.m.macros[name] = Macro(name, addr, h.at("address"), f"address of Nagios host {hname}")
                return

    # -- notifications and what has no counterpart ---------------------------------------------------
    def _notifications(
        self, check: Check, obj: Obj, inst: ServiceInstance | None, host: Obj, subject: str
    ) -> None:
        is_service = inst is not None
        values = dict(obj.values)
        if is_service and "contacts" not in values and "contact_groups" not in values:
            for key in ("contacts", "contact_groups"):
                if key in host.values:
                    values[key] = host.get(key)
        for key in ("notification_interval", "notification_period"):
            if key not in values and is_service and key in host.values:
                values[key] = host.values[key]
        names: list[str] = []
        for c in _items(values.get("contacts")):
            names.append(c)
        for g in _items(values.get("contact_groups")):
            names.extend(self.objs.contactgroup_members.get(g, []))
        missing = sorted({n for n in names if n not in self.contacts})
        if missing:
            self.m.note(obj.at("contacts"), subject, f"contacts without email left out: {', '.join(missing)}")
        notify = tuple(dict.fromkeys(n for n in names if n in self.contacts))
        options = set((values.get("notification_options") or "").replace(",", "").replace(" ", ""))
        if obj.get("notifications_enabled") == "0" or "n" in options:
            check.notify = ()
            check.comments.append("notifications were off in Nagios: notify: []")
            return
        if names:
            check.notify = notify
        wanted = _SERVICE_OPTIONS if is_service else _HOST_OPTIONS
        if options and not wanted <= options:
            opts = "".join(sorted(options))
            why = "watchd tells about every problem state and the recovery"
            self.m.note(obj.at("notification_options"), subject, f"notification_options {opts}: {why}")
        period = values.get("notification_period")
        if not self._is_24x7(period):
            why = "watchd notifies at any time (use maintenance windows, or the calendar as the SLA clock)"
            self.m.note(obj.at("notification_period"), subject, f"notification_period {period}: {why}")
        delay = _number(obj.get("first_notification_delay"), 0.0)
        if delay > 0:
            why = "max_attempts and retry_interval delay the hard state"
            self.m.note(
                obj.at("first_notification_delay"), subject, f"first_notification_delay left out ({why})"
            )
        interval = values.get("notification_interval")
        if interval is not None:
            self.renotify[_number(interval, 0.0) * self.s.interval_length] += 1

    def _unmapped(self, obj: Obj, subject: str) -> None:
        checks = {
            "event_handler": "event handlers: watchd runs no commands on state changes",
            "is_volatile": "volatile services: watchd opens one incident per problem",
            "check_freshness": "freshness checks are for passive results",
        }
        if obj.type == "service":
            checks["parents"] = "service parents: use a servicedependency"
        for key, why in checks.items():
            v = obj.get(key)
            if v and v != "0" and not (key == "event_handler" and obj.get("event_handler_enabled") == "0"):
                self.m.note(obj.at(key), subject, f"{key} {v} left out: {why}")
        if not self._is_24x7(obj.get("check_period")):
            what = f"check_period {obj.get('check_period')}"
            self.m.note(obj.at("check_period"), subject, f"{what} left out: watchd runs checks at all times")

    def _unique(self, name: str, origin: Origin) -> str:
        out, n = name, 2
        while out in self.names:
            out, n = f"{name}_{n}", n + 1
        if out != name:
            self.m.note(origin, name, f"the name was taken; this check is {out}")
        self.names.add(out)
        return out

    # -- dependencies --------------------------------------------------------------------------------
    def _dependencies(self) -> None:
        for dep in self.objs.dependencies:
            edges, why = self._edges(dep)
            if edges:
                self.m.count(dep.type, "imported")
                for child, parent in edges:
                    check = next(c for c in self.m.checks if c.name == child)
                    if parent not in check.depends_on:
                        check.depends_on = (*check.depends_on, parent)
                        check.comments.append(f"depends_on {parent}: {dep.type} at {dep.origin}")
            else:
                self.m.count(dep.type, "not translatable")
                self.m.skip(dep.origin, dep.type, why)

    def _edges(self, dep: Obj) -> tuple[list[tuple[str, str]], str]:
        criteria = set((dep.get("notification_failure_criteria") or "n").replace(",", ""))
        subject = dep.type
        if not criteria - {"n"}:
            return [], "notification_failure_criteria is n (or unset): it holds back no notifications"
        if dep.get("execution_failure_criteria") not in (None, "n"):
            why = "watchd runs dependent checks anyway and holds back only their notifications"
            self.m.note(
                dep.at("execution_failure_criteria"), subject, f"execution_failure_criteria left out: {why}"
            )
        if not _DEPENDENCY_STATES[dep.type] <= criteria or criteria & {"o", "p"}:
            which = "".join(sorted(criteria))
            why = "watchd holds back notifications while the parent is in any problem state"
            self.m.note(dep.at("notification_failure_criteria"), subject, f"criteria {which}: {why}")
        if not self._is_24x7(dep.get("dependency_period")):
            self.m.note(
                dep.at("dependency_period"), subject, "dependency_period left out: applies at all times"
            )
        masters = expand_hosts(
            self.objs, dep.items("host_name"), dep.items("hostgroup_name"), dep.origin, subject
        )
        same_host = not dep.get("dependent_host_name") and not dep.get("dependent_hostgroup_name")
        dep_hosts, dep_groups = dep.items("dependent_host_name"), dep.items("dependent_hostgroup_name")
        children = (
            masters if same_host else expand_hosts(self.objs, dep_hosts, dep_groups, dep.origin, subject)
        )
        edges: list[tuple[str, str]] = []
        cross = False
        for mh in masters:
            for ch in [mh] if same_host else children:
                if self.s.host is not None and self.s.host not in (mh, ch):
                    continue
                if self.s.host is not None and mh != ch:
                    cross = True
                    continue
                if dep.type == "hostdependency":
                    pair = (self.by_host.get(ch), self.by_host.get(mh))
                    if pair[0] and pair[1]:
                        edges.append((pair[0], pair[1]))
                    continue
                for ms in self._descriptions(dep, "service_description", mh):
                    for cs in self._descriptions(dep, "dependent_service_description", ch):
                        c, p = self.by_service.get((ch, cs)), self.by_service.get((mh, ms))
                        if c and p and c != p:
                            edges.append((c, p))
        if cross:
            return edges, "a dependency across hosts: with --host, depends_on only links checks of one host"
        if dep.type == "hostdependency" and self.s.host is not None:
            return [], "host dependencies need host checks, which --host leaves out"
        return edges, "links no imported checks"

    def _descriptions(self, dep: Obj, key: str, host: str) -> list[str]:
        wanted = dep.items(key)
        have = [d for h, d in self.by_service if h == host]
        return have if "*" in wanted else [d for d in wanted if d in have]


def plugin_name(path: str) -> str:
    """A plugin in a directory watchd searches anyway is named bare, so plugin_dirs decides."""
    head, _, tail = path.rpartition("/")
    return tail if head in DEFAULT_PLUGIN_DIRS and tail else path


def _items(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").removeprefix("+").split(",") if p.strip()]


def _number(text: str | None, default: float) -> float:
    try:
        return float(text) if text not in (None, "") else default
    except ValueError:
        return default


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g}m"


def translate(objs: Objects, settings: Settings) -> Migration:
    return _Translator(objs, settings).run()
