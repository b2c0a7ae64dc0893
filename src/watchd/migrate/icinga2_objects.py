"""Loaded Icinga 2 definitions -> evaluated objects, as Icinga evaluates them. Pure.

Objects run their bodies (imports in place); CheckCommands, of which the ITL defines hundreds, are
evaluated only when a check uses one. `apply` rules run against every host (and service), creating one
object per match or per `for` item after `assign where`/`ignore where`; groups take their members by
`assign where`. What cannot be evaluated is a finding in the Migration, with file:line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from watchd.migrate.icinga2_ast import ApplyDef, ObjectDef, Where
from watchd.migrate.icinga2_eval import EvalError, to_string, truthy
from watchd.migrate.icinga2_load import Loaded
from watchd.migrate.model import Migration, Origin


@dataclass(slots=True)
class IObj:
    type: str
    name: str
    attrs: dict[str, Any]
    origin: Origin
    wheres: list[Where] = field(default_factory=list)
    file: str = ""


class Objects:
    """Every evaluated object by type and name; services (which can share a name) in a list."""

    def __init__(self, loaded: Loaded, m: Migration) -> None:
        self.ld, self.interp, self.m = loaded, loaded.interp, m
        self.objs: dict[str, dict[str, IObj]] = {}
        self.services: list[IObj] = []
        self.lazy: dict[str, tuple[ObjectDef, str]] = {}  # CheckCommand name -> its definition
        self.command_use: dict[str, str] = {}  # CheckCommand name -> "imported" | "not translatable"

    def of(self, kind: str) -> dict[str, IObj]:
        return self.objs.setdefault(kind, {})

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

    def applied(self, ad: ApplyDef, file: str, target: str) -> list[tuple[IObj, str | None, dict[str, Any]]]:
        """(host, service name or None, evaluated body) for a Notification/Dependency/Downtime rule."""
        out = []
        targets: list[tuple[IObj, IObj | None]]
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

    def assign_groups(self) -> None:
        """Add each HostGroup, ServiceGroup and UserGroup to the `groups` of the objects it assigns."""
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
