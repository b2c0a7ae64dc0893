"""Nagios object definitions -> resolved objects: templates (`use`, left to right, `+`, `null`), then group
membership and the host lists of services and dependencies (`*`, `!` exclusions, host groups). Pure.

Inheritance follows xodtemplate_resolve_*() of Nagios Core 4: templates are applied in the order `use`
lists them, and a directive the object (or an earlier template) already has is kept, so the leftmost
template wins. For the list directives that Nagios joins (host groups, contacts, members, ...), a value
starting with `+` is appended to the inherited one; `null` stops inheritance. A service template whose
check_command starts with `!` overrides the service's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watchd.migrate.model import Finding, Origin
from watchd.migrate.nagios_parse import Directive, RawObject

_DEP_LISTS = {
    "servicegroup_name", "hostgroup_name", "host_name", "service_description", "dependent_servicegroup_name",
    "dependent_hostgroup_name", "dependent_host_name", "dependent_service_description",
}  # fmt: skip
ADDITIVE: dict[str, set[str]] = {
    "host": {"parents", "hostgroups", "contact_groups", "contacts"},
    "service": {"host_name", "hostgroup_name", "servicegroups", "contact_groups", "contacts", "parents"},
    "contact": {"contact_groups", "host_notification_commands", "service_notification_commands"},
    "contactgroup": {"members", "contactgroup_members"},
    "hostgroup": {"members", "hostgroup_members"},
    "servicegroup": {"members", "servicegroup_members"},
    "servicedependency": _DEP_LISTS,
    "hostdependency": _DEP_LISTS,
    "serviceescalation": _DEP_LISTS | {"contact_groups", "contacts"},
    "hostescalation": _DEP_LISTS | {"contact_groups", "contacts"},
}
KEY = {
    "host": "host_name", "hostgroup": "hostgroup_name", "servicegroup": "servicegroup_name",
    "command": "command_name", "contact": "contact_name", "contactgroup": "contactgroup_name",
    "timeperiod": "timeperiod_name",
}  # fmt: skip
_META = {"use", "name", "register"}


@dataclass(slots=True)
class Obj:
    """One definition after inheritance. `values[k] is None` means `null`."""

    type: str
    origin: Origin
    values: dict[str, str | None] = field(default_factory=dict)
    where: dict[str, Origin] = field(default_factory=dict)  # the line each value came from
    custom: dict[str, str] = field(default_factory=dict)
    timeranges: dict[str, Directive] = field(default_factory=dict)
    register: bool = True
    important_check_command: bool = False

    def get(self, key: str) -> str | None:
        v = self.values.get(key)
        if v is not None and key in ADDITIVE.get(self.type, ()):
            v = v.removeprefix("+")
        return v

    def items(self, key: str) -> list[str]:
        """A comma-separated directive as a list (blanks around items dropped)."""
        return [p.strip() for p in (self.get(key) or "").split(",") if p.strip()]

    def at(self, key: str) -> Origin:
        return self.where.get(key, self.origin)


@dataclass(slots=True)
class ServiceInstance:
    host: str
    description: str
    obj: Obj
    via_group: bool  # assigned through hostgroup_name rather than host_name


@dataclass(slots=True)
class Objects:
    """Every registered object by type and name, with memberships worked out."""

    by_type: dict[str, dict[str, Obj]] = field(default_factory=dict)
    templates: int = 0  # register 0 definitions (templates only)
    services: list[ServiceInstance] = field(default_factory=list)
    unassigned_services: list[Obj] = field(default_factory=list)
    hostgroup_members: dict[str, list[str]] = field(default_factory=dict)
    host_groups: dict[str, list[str]] = field(default_factory=dict)  # host -> its host groups
    service_groups: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    contactgroup_members: dict[str, list[str]] = field(default_factory=dict)
    dependencies: list[Obj] = field(default_factory=list)  # service and host dependencies
    escalations: list[Obj] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)

    def of(self, kind: str) -> dict[str, Obj]:
        return self.by_type.setdefault(kind, {})


def resolve(raws: list[RawObject]) -> Objects:
    out = Objects()
    templates: dict[str, dict[str, RawObject]] = {}
    for raw in raws:
        name = raw.get("name")
        if name:
            seen = templates.setdefault(raw.type, {})
            if name in seen:
                out.problems.append(
                    Finding(raw.origin, f"{raw.type} template {name}", "defined twice; first wins")
                )
            else:
                seen[name] = raw
    cache: dict[int, Obj] = {}
    for raw in raws:
        obj = _resolve(raw, templates.get(raw.type, {}), cache, (), out.problems)
        if not obj.register:
            out.templates += 1
        elif raw.type == "service":
            out.unassigned_services.append(obj)  # assigned to hosts below
        elif raw.type in ("servicedependency", "hostdependency"):
            out.dependencies.append(obj)
        elif raw.type in ("serviceescalation", "hostescalation", "hostextinfo", "serviceextinfo"):
            out.escalations.append(obj)
        else:
            key = obj.get(KEY[raw.type]) or (obj.get("name") if raw.type == "timeperiod" else None)
            if not key:
                out.problems.append(Finding(obj.origin, raw.type, f"has no {KEY[raw.type]}"))
            elif key in out.of(raw.type):
                out.problems.append(Finding(obj.origin, f"{raw.type} {key}", "defined twice; first wins"))
            else:
                out.of(raw.type)[key] = obj
    _memberships(out)
    _assign_services(out)
    return out


def _resolve(
    raw: RawObject,
    templates: dict[str, RawObject],
    cache: dict[int, Obj],
    stack: tuple[int, ...],
    problems: list[Finding],
) -> Obj:
    if id(raw) in cache:
        return cache[id(raw)]
    obj = Obj(raw.type, raw.origin, register=raw.get("register") != "0")
    for key, d in raw.directives.items():
        if key in _META:
            continue
        value: str | None = None if d.value == "null" else d.value
        if key == "check_command" and raw.type == "service" and value and value.startswith("!"):
            value, obj.important_check_command = value[1:], True
        obj.values[key], obj.where[key] = value, Origin(raw.origin.file, d.line)
    obj.custom = {k: d.value for k, d in raw.custom.items()}
    obj.timeranges = dict(raw.timeranges)
    additive = ADDITIVE.get(raw.type, set())
    for name in [n.strip() for n in (raw.get("use") or "").split(",") if n.strip()]:
        tpl = templates.get(name)
        if tpl is None:
            problems.append(Finding(raw.origin, f"{raw.type} use {name}", "no such template"))
            continue
        if id(tpl) in stack or tpl is raw:
            problems.append(
                Finding(raw.origin, f"{raw.type} use {name}", "templates use each other in a loop")
            )
            continue
        t = _resolve(tpl, templates, cache, (*stack, id(raw)), problems)
        if t.important_check_command and "check_command" in t.values:
            obj.values.pop("check_command", None)
        for key, tv in t.values.items():
            if key in additive:
                _inherit_additive(obj, key, tv, t.at(key))
            elif key not in obj.values:
                obj.values[key], obj.where[key] = tv, t.at(key)
        for k, v in t.custom.items():
            obj.custom.setdefault(k, v)
        for k, d in t.timeranges.items():
            obj.timeranges.setdefault(k, d)
    cache[id(raw)] = obj
    return obj


def _inherit_additive(obj: Obj, key: str, template_value: str | None, where: Origin) -> None:
    """xodtemplate_get_inherited_string(): take the template's value, or append ours if it starts with +."""
    if template_value is not None:
        mine = obj.values.get(key)
        if mine is None:
            if key not in obj.values:
                obj.values[key], obj.where[key] = template_value, where
        elif mine.startswith("+"):
            obj.values[key] = f"{template_value},{mine[1:]}"
    obj.values.setdefault(key, None)


def expand_hosts(objs: Objects, hosts: list[str], groups: list[str], origin: Origin, what: str) -> list[str]:
    """Host names from host and host group lists: `*` is all, `!name` excludes, as in Nagios."""
    return [h for h, _ in expand_assignment(objs, hosts, groups, origin, what)]


def expand_assignment(
    objs: Objects, hosts: list[str], groups: list[str], origin: Origin, what: str
) -> list[tuple[str, bool]]:
    """(host, through a host group?) pairs; exclusions from either list apply to both."""
    keep: list[tuple[str, bool]] = []
    drop: set[str] = set()
    known = objs.of("host")
    for item in hosts:
        if item == "*":
            keep.extend((h, False) for h in known)
        elif item.startswith("!"):
            drop.add(item[1:].strip())
        elif item in known:
            keep.append((item, False))
        else:
            objs.problems.append(Finding(origin, what, f"no host {item!r}"))
    for item in groups:
        reject = item.startswith("!")
        name = item[1:].strip() if reject else item
        for g in list(objs.hostgroup_members) if name == "*" else [name]:
            if g not in objs.hostgroup_members:
                objs.problems.append(Finding(origin, what, f"no host group {g!r}"))
            elif reject:
                drop.update(objs.hostgroup_members[g])
            else:
                keep.extend((h, True) for h in objs.hostgroup_members[g])
    out: dict[str, bool] = {}
    for h, via_group in keep:
        if h not in drop:
            out[h] = out.get(h, True) and via_group
    return list(out.items())


def _memberships(objs: Objects) -> None:
    groups = objs.of("hostgroup")
    objs.hostgroup_members = {g: [] for g in groups}
    for host, h in objs.of("host").items():
        for g in h.items("hostgroups"):
            if g in groups:
                objs.hostgroup_members[g].append(host)
            else:
                objs.problems.append(Finding(h.at("hostgroups"), f"host {host}", f"no host group {g!r}"))
    for g, obj in groups.items():
        objs.hostgroup_members[g].extend(expand_hosts(objs, obj.items("members"), [], obj.at("members"), g))
    _nest(objs.hostgroup_members, {g: o.items("hostgroup_members") for g, o in groups.items()})
    for g, members in objs.hostgroup_members.items():
        objs.hostgroup_members[g] = list(dict.fromkeys(members))
        for member in objs.hostgroup_members[g]:
            objs.host_groups.setdefault(member, []).append(g)

    cgroups = objs.of("contactgroup")
    objs.contactgroup_members = {g: [] for g in cgroups}
    for name, c in objs.of("contact").items():
        for g in c.items("contact_groups"):
            if g in cgroups:
                objs.contactgroup_members[g].append(name)
    for g, obj in cgroups.items():
        for m in obj.items("members"):
            if m == "*":
                objs.contactgroup_members[g].extend(objs.of("contact"))
            elif m in objs.of("contact"):
                objs.contactgroup_members[g].append(m)
            else:
                objs.problems.append(Finding(obj.at("members"), f"contactgroup {g}", f"no contact {m!r}"))
    _nest(objs.contactgroup_members, {g: o.items("contactgroup_members") for g, o in cgroups.items()})


def _nest(members: dict[str, list[str]], nested: dict[str, list[str]]) -> None:
    """Add the members of nested groups (group_members), transitively, without looping."""

    def walk(g: str, seen: set[str]) -> list[str]:
        out = list(members.get(g, []))
        for sub in nested.get(g, []):
            if sub not in seen and sub in members:
                out.extend(walk(sub, seen | {sub}))
        return out

    resolved = {g: walk(g, {g}) for g in members}
    for g, m in resolved.items():
        members[g] = list(dict.fromkeys(m))


def _assign_services(objs: Objects) -> None:
    """One instance per (host, description); a host_name assignment beats a host group one."""
    chosen: dict[tuple[str, str], ServiceInstance] = {}
    for obj in objs.unassigned_services:
        desc = obj.get("service_description")
        if not desc:
            objs.problems.append(Finding(obj.origin, "service", "has no service_description"))
            continue
        where = obj.at("host_name") if obj.get("host_name") else obj.at("hostgroup_name")
        assigned = expand_assignment(
            objs, obj.items("host_name"), obj.items("hostgroup_name"), where, f"service {desc}"
        )
        if not assigned:
            objs.problems.append(Finding(obj.origin, f"service {desc}", "is assigned to no host"))
        for host, via_group in assigned:
            key = (host, desc)
            old = chosen.get(key)
            if old is None or (old.via_group and not via_group):
                chosen[key] = ServiceInstance(host, desc, obj, via_group)
            elif old.obj is not obj:
                objs.problems.append(
                    Finding(
                        obj.origin,
                        f"service {host}/{desc}",
                        f"also defined at {old.obj.origin}; that one wins",
                    )
                )
    objs.services = list(chosen.values())
    sgroups = objs.of("servicegroup")
    members: dict[str, list[str]] = {g: [] for g in sgroups}
    for inst in objs.services:
        for g in inst.obj.items("servicegroups"):
            if g in members:
                members[g].append(f"{inst.host}\0{inst.description}")
    for g, sg in sgroups.items():
        items = sg.items("members")
        for h, s in zip(items[::2], items[1::2], strict=False):
            members[g].extend(
                f"{i.host}\0{i.description}"
                for i in objs.services
                if h in ("*", i.host) and s in ("*", i.description)
            )
    _nest(members, {g: o.items("servicegroup_members") for g, o in sgroups.items()})
    for g, ms in members.items():
        for m in ms:
            host, _, desc = m.partition("\0")
            objs.service_groups.setdefault((host, desc), []).append(g)
