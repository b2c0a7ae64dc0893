"""Evaluate the Icinga 2 syntax tree: constants, templates and `import`, object bodies, dictionaries,
lambdas and the handful of built-in functions the ITL uses. Pure.

Values are Python values: str, float, bool, None, list, dict (objects and `vars` are dicts), `Function`.
Icinga's enum globals (`OK`, `Critical`, `PluginCheck`, ...) evaluate to `Symbol`. What needs the running
Icinga (get_object(), resolve_arguments(), a check's last output) raises `Untranslatable`.

About 410 lines: the interpreter, the operators and the values' methods are one language's semantics
that call each other; the tree is icinga2_ast, the macros of a command line icinga2_argv.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from watchd.migrate.icinga2_ast import (
    ArrayLit,
    Assign,
    Binary,
    Call,
    DictLit,
    For,
    If,
    Import,
    Index,
    Lambda,
    Lit,
    Member,
    Name,
    Node,
    Return,
    Ternary,
    Unary,
    VarDecl,
    Where,
)  # fmt: skip

# Templates compiled into Icinga 2 (lib/*/ *-itl.conf) rather than shipped as files.
BUILTIN_TEMPLATES: dict[str, dict[str, Any]] = {
    "plugin-check-command": {"execute": "PluginCheck"},
    "plugin-notification-command": {"execute": "PluginNotification"},
    "plugin-event-command": {"execute": "PluginEvent"},
    "legacy-timeperiod": {"update": "LegacyTimePeriod"},
}


class EvalError(ValueError):
    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


class Untranslatable(EvalError):
    """Needs the running Icinga 2; the message says what."""


class Symbol(str):
    """An Icinga global constant the importer only names (PluginCheck, Critical, Problem, ...)."""


@dataclass(slots=True)
class Function:
    params: list[str]
    body: list[Node]
    file: str


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


def to_string(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, list):
        return ";".join(to_string(i) for i in v)
    raise EvalError(f"cannot make text of {type_name(v)}")


def truthy(v: Any) -> bool:
    if isinstance(v, (list, dict, Function)):
        return True
    return bool(v)


def type_name(v: Any) -> str:
    return {
        type(None): "Empty", bool: "Boolean", float: "Number", int: "Number", list: "Array",
        dict: "Dictionary", Function: "Function",
    }.get(type(v), "String")  # fmt: skip


class Interp:
    """Holds globals and templates; runs bodies. `macro` is set while a lambda resolves macros."""

    def __init__(self, node_name: str) -> None:
        self.globals: dict[str, Any] = {"NodeName": node_name, "ZoneName": node_name, "ApiBindHost": None}
        self.templates: dict[tuple[str, str], tuple[list[Node], str]] = {}
        self.macro: Callable[[str], Any] | None = None

    # -- bodies ---------------------------------------------------------------------------------------
    def run_body(
        self, body: list[Node], this: dict[str, Any], local: dict[str, Any], file: str, kind: str
    ) -> None:
        for stmt in body:
            self.exec(stmt, this, local, file, kind, set())

    def exec(
        self, st: Node, this: dict[str, Any], local: dict[str, Any], file: str, kind: str, importing: set[str]
    ) -> Any:
        """Run one statement; an expression statement gives its value."""
        if isinstance(st, Import):
            name = to_string(self.eval(st.name, this, local, file))
            tpl = self.templates.get((kind, name))
            if tpl is None and (name in BUILTIN_TEMPLATES or name.endswith("-check-command")):
                this.update(BUILTIN_TEMPLATES.get(name, {"execute": Symbol(name)}))
                return
            if tpl is None:
                raise EvalError(f"no {kind} template {name!r} (one built into Icinga 2?)", st.line)
            if name in importing:
                raise EvalError(f"template {name!r} imports itself", st.line)
            for inner in tpl[0]:
                self.exec(inner, this, local, tpl[1], kind, importing | {name})
        elif isinstance(st, Assign):
            self.assign(st, this, local, file)
        elif isinstance(st, VarDecl):
            local[st.name] = self.eval(st.value, this, local, file) if st.value else None
        elif isinstance(st, If):
            branch = st.then if truthy(self.eval(st.cond, this, local, file)) else st.other
            for inner in branch:
                self.exec(inner, this, local, file, kind, importing)
        elif isinstance(st, For):
            items = self.eval(st.iterable, this, local, file)
            pairs = list(items.items()) if isinstance(items, dict) else [(i, None) for i in items or []]
            for k, v in pairs:
                local[st.key] = k
                if st.value:
                    local[st.value] = v
                for inner in st.body:
                    self.exec(inner, this, local, file, kind, importing)
        elif isinstance(st, Return):
            raise _Return(self.eval(st.value, this, local, file) if st.value else None)
        elif isinstance(st, Where):
            pass  # evaluated by whoever applies the rule
        else:
            return self.eval(st, this, local, file)
        return None

    def assign(self, st: Assign, this: dict[str, Any], local: dict[str, Any], file: str) -> None:
        value = self.eval(st.value, this, local, file)
        target = st.target
        if isinstance(target, Name):
            scope = local if target.id in local else this
            key: Any = target.id
        elif isinstance(target, Lit):  # "-H" = { ... } inside a dictionary
            scope, key = this, to_string(target.value)
        elif isinstance(target, (Member, Index)):
            scope = self.container(target.obj, this, local, file)
            key = (
                target.name
                if isinstance(target, Member)
                else to_string(self.eval(target.key, this, local, file))
            )
        else:
            raise EvalError("cannot assign to this", st.line)
        if st.op != "=":
            value = binary(st.op[0], scope.get(key), value, st.line)
        scope[key] = value

    def container(self, node: Node, this: dict[str, Any], local: dict[str, Any], file: str) -> dict[str, Any]:
        """The dictionary an assignment target lives in, created on the way (vars.a.b = 1)."""
        if isinstance(node, Name):
            scope = local if node.id in local else this
            if not isinstance(scope.get(node.id), dict):
                scope[node.id] = {}
            out: dict[str, Any] = scope[node.id]
            return out
        if isinstance(node, (Member, Index)):
            parent = self.container(node.obj, this, local, file)
            key = node.name if isinstance(node, Member) else to_string(self.eval(node.key, this, local, file))
            if not isinstance(parent.get(key), dict):
                parent[key] = {}
            out = parent[key]
            return out
        raise EvalError("cannot assign into this", node.line)

    # -- expressions ----------------------------------------------------------------------------------
    def eval(self, node: Node, this: dict[str, Any], local: dict[str, Any], file: str) -> Any:
        if isinstance(node, Lit):
            return node.value
        if isinstance(node, Name):
            return self.lookup(node, this, local)
        if isinstance(node, Member):
            return member(self.eval(node.obj, this, local, file), node.name, node.line)
        if isinstance(node, Index):
            obj = self.eval(node.obj, this, local, file)
            key = self.eval(node.key, this, local, file)
            if isinstance(obj, dict):
                return obj.get(to_string(key))
            if isinstance(obj, list) and isinstance(key, float) and 0 <= int(key) < len(obj):
                return obj[int(key)]
            return None
        if isinstance(node, Call):
            fn = self.eval(node.fn, this, local, file)
            args = [self.eval(a, this, local, file) for a in node.args]
            return self.call(fn, args, node.line)
        if isinstance(node, Unary):
            x = self.eval(node.x, this, local, file)
            if node.op == "!":
                return not truthy(x)
            if node.op == "-":
                return -_num(x, node.line)
            return x
        if isinstance(node, Binary):
            if node.op == "&&":
                return truthy(self.eval(node.a, this, local, file)) and truthy(
                    self.eval(node.b, this, local, file)
                )
            if node.op == "||":
                return truthy(self.eval(node.a, this, local, file)) or truthy(
                    self.eval(node.b, this, local, file)
                )
            a, b = self.eval(node.a, this, local, file), self.eval(node.b, this, local, file)
            return binary(node.op, a, b, node.line)
        if isinstance(node, Ternary):
            cond = truthy(self.eval(node.cond, this, local, file))
            return self.eval(node.a if cond else node.b, this, local, file)
        if isinstance(node, ArrayLit):
            return [self.eval(i, this, local, file) for i in node.items]
        if isinstance(node, DictLit):
            out: dict[str, Any] = {}
            for st in node.body:
                self.exec(st, out, local, file, "Dictionary", set())
            return out
        if isinstance(node, Lambda):
            return Function(node.params, node.body, file)
        raise EvalError(f"cannot evaluate {type(node).__name__}", node.line)

    def lookup(self, node: Name, this: dict[str, Any], local: dict[str, Any]) -> Any:
        n = node.id
        for scope in (local, this, self.globals):
            if n in scope:
                return scope[n]
        if n == "this":
            return this
        if n == "globals":
            return self.globals
        if n in _BUILTINS or n == "macro":
            return n
        if n[:1].isupper():
            return Symbol(n)
        raise EvalError(f"unknown name {n!r}", node.line)

    def call(self, fn: Any, args: list[Any], line: int) -> Any:
        if isinstance(fn, Function):
            local = dict(zip(fn.params, args, strict=False))
            last = None  # a function without `return` gives the value of its last expression
            try:
                for st in fn.body:
                    last = self.exec(st, {}, local, fn.file, "Function", set())
            except _Return as r:
                return r.value
            return last
        if isinstance(fn, _Bound):
            return fn(*args)
        if fn == "macro" and not isinstance(fn, Symbol):
            if self.macro is None:
                raise Untranslatable("macro() outside a check", line)
            return self.macro(to_string(args[0]) if args else "")
        if isinstance(fn, str) and fn in _BUILTINS:
            return _BUILTINS[fn](*args)
        raise EvalError(f"cannot call {to_string(fn) if isinstance(fn, str) else type_name(fn)}", line)

    def call_function(self, fn: Function, resolve: Callable[[str], Any]) -> Any:
        """Run a lambda from a command definition with macro() resolving like the check would."""
        old, self.macro = self.macro, resolve
        try:
            return self.call(fn, [], 0)
        finally:
            self.macro = old


def binary(op: str, a: Any, b: Any, line: int) -> Any:
    if op == "+":
        if isinstance(a, list) or isinstance(b, list):
            return [*(a or []), *(b if isinstance(b, list) else [b])]
        if isinstance(a, dict) or isinstance(b, dict):
            return {**(a or {}), **(b or {})}
        if isinstance(a, str) or isinstance(b, str):
            return to_string(a) + to_string(b)
        return _num(a, line) + _num(b, line)
    if op == "-":
        if isinstance(a, list):
            return [x for x in a if x not in (b if isinstance(b, list) else [b])]
        return _num(a, line) - _num(b, line)
    if op in ("*", "/", "%"):
        x, y = _num(a, line), _num(b, line)
        if op != "*" and y == 0:
            raise EvalError("division by zero", line)
        return x * y if op == "*" else x / y if op == "/" else x % y
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op in ("in", "!in"):
        inside = b is not None and a in b if isinstance(b, (list, dict)) else False
        return inside if op == "in" else not inside
    if op in ("<", ">", "<=", ">="):
        both_text = isinstance(a, str) and isinstance(b, str)
        lo: Any = a if both_text else _num(a, line)
        hi: Any = b if both_text else _num(b, line)
        return {"<": lo < hi, ">": lo > hi, "<=": lo <= hi, ">=": lo >= hi}[op]
    if op in ("|", "&", "^"):
        i, j = int(_num(a, line)), int(_num(b, line))
        return float(i | j if op == "|" else i & j if op == "&" else i ^ j)
    raise EvalError(f"operator {op} is not supported here", line)


def _num(v: Any, line: int) -> float:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if v is None:
        return 0.0
    try:
        return float(v)
    except (TypeError, ValueError):
        raise EvalError(f"not a number: {v!r}", line) from None


class _Bound:
    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


def member(obj: Any, name: str, line: int) -> Any:
    if isinstance(obj, dict):
        if name in obj:
            return obj[name]
        if name == "contains":
            return _Bound(lambda k: to_string(k) in obj)
        if name == "keys":
            return _Bound(lambda: list(obj))
        if name == "len":
            return _Bound(lambda: float(len(obj)))
        if name == "get":
            return _Bound(lambda k: obj.get(to_string(k)))
        return None
    if obj is None:
        return None
    if isinstance(obj, list):
        methods: dict[str, Callable[..., Any]] = {
            "contains": lambda x: x in obj, "len": lambda: float(len(obj)),
            "join": lambda sep="": to_string(sep).join(to_string(i) for i in obj),
        }  # fmt: skip
    elif isinstance(obj, str):
        s = str.__str__(obj)
        methods = {
            "contains": lambda x: to_string(x) in s, "len": lambda: float(len(s)), "trim": lambda: s.strip(),
            "upper": lambda: s.upper(), "lower": lambda: s.lower(),
            "split": lambda sep: s.split(to_string(sep)), "find": lambda x: float(s.find(to_string(x))),
            "replace": lambda a, b: s.replace(to_string(a), to_string(b)),
            "substr": lambda a, n=None: s[int(a) :] if n is None else s[int(a) : int(a) + int(n)],
            "to_string": lambda: s,
        }  # fmt: skip
    else:
        methods = {"to_string": lambda: to_string(obj)}
    if name in methods:
        return _Bound(methods[name])
    raise EvalError(f"{type_name(obj)} has no field {name!r}", line)


def _needs_icinga(what: str) -> Callable[..., Any]:
    def fail(*_args: Any) -> Any:
        raise Untranslatable(f"{what}() needs the running Icinga 2")

    return fail


_BUILTINS: dict[str, Callable[..., Any]] = {
    "match": lambda pattern, value, *_: fnmatch.fnmatchcase(to_string(value), to_string(pattern)),
    "regex": lambda pattern, value, *_: re.search(to_string(pattern), to_string(value)) is not None,
    "len": lambda v: float(len(v)) if v is not None else 0.0,
    "typeof": type_name,
    "string": to_string,
    "number": lambda v: _num(v, 0),
    "bool": truthy,
    "log": lambda *_: None,
    "range": lambda a, b=None: [float(i) for i in (range(int(a)) if b is None else range(int(a), int(b)))],
    "dirname": lambda p: os.path.dirname(to_string(p)),
    "basename": lambda p: os.path.basename(to_string(p)),
    "get_object": _needs_icinga("get_object"),
    "get_objects": _needs_icinga("get_objects"),
    "get_host": _needs_icinga("get_host"),
    "get_service": _needs_icinga("get_service"),
    "get_services": _needs_icinga("get_services"),
    "resolve_arguments": _needs_icinga("resolve_arguments"),
    "msi_get_component_path": _needs_icinga("msi_get_component_path"),
}
