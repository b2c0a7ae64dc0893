"""A CheckCommand -> the argv and env of one check, as Icinga 2 builds them. Pure.

After MacroProcessor::ResolveArguments: the `command` (a string or an array), then the `arguments` sorted
by `order` (ties in key order), each skipped when its macro is missing or its `set_if` is false, with
`value`, `skip_key`, `repeat_key`, `separator`, `required`. Macros resolve through service, host, command
(vars first, then attributes), as InternalResolveMacros() does; lambdas run with `macro()`.
`$host.address$`, `$host.address6$` and `$host.name$` go to the caller (`HostField`), which decides
whether they become watchd macros.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from watchd.migrate.commandline import shell_quote, split, word
from watchd.migrate.icinga2_eval import EvalError, Function, Interp, Symbol, Untranslatable, to_string, truthy
from watchd.migrate.nagios_translate import plugin_name

_RUNTIME = {
    "state", "state_id", "state_type", "last_state", "last_state_id", "last_state_type", "last_state_change",
    "last_hard_state", "last_hard_state_id", "last_check", "next_check", "output", "perfdata",
    "check_attempt", "duration_sec", "latency", "execution_time", "downtime_depth", "acknowledgement",
    "last_check_result", "is_flapping", "check_source", "num_services", "total_services",
}  # fmt: skip

Resolvers = list[tuple[str, dict[str, Any]]]  # ("service" | "host" | "command", attributes), in order
HostField = Callable[[str, dict[str, Any]], str | None]  # (address|address6|name, host attrs) -> value


def render_command(
    interp: Interp, command: dict[str, Any], resolvers: Resolvers, host_field: HostField
) -> tuple[tuple[str, ...], dict[str, str]]:
    """(argv, env) of a CheckCommand's attributes. Raises EvalError (Untranslatable) or NeedsShell."""
    return _Macros(interp, resolvers, host_field).render(command)


class _Macros:
    def __init__(self, interp: Interp, resolvers: Resolvers, host_field: HostField) -> None:
        self.interp, self.resolvers, self.host_field = interp, resolvers, host_field

    def render(self, c: dict[str, Any]) -> tuple[tuple[str, ...], dict[str, str]]:
        cmd = c.get("command")
        if cmd is None:
            raise Untranslatable(f"an Icinga 2 internal check (execute = {to_string(c.get('execute'))})")
        args_spec = c.get("arguments")
        if isinstance(cmd, str) and not args_spec:
            line, _ = self.resolve(cmd, quote=True)
            argv = list(split(to_string(line)))
        elif isinstance(cmd, str):
            argv = [word(cmd)]
        else:
            argv = []
            for item in cmd if isinstance(cmd, list) else [cmd]:
                v, _ = self.resolve(item)
                argv.append(word(to_string(v)))
        if isinstance(args_spec, dict):
            argv.extend(word(x) for x in self.arguments(args_spec))
        argv[0] = plugin_name(argv[0])
        env: dict[str, str] = {}
        for k, v in (c.get("env") or {}).items():
            val, missing = self.resolve(v)
            if not missing:
                env[str(k)] = word(to_string(val))
        return tuple(argv), env

    def arguments(self, spec: dict[str, Any]) -> list[str]:
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
                    cond, missing = self.resolve(info["set_if"])
                    if missing or not _set_if(cond):
                        continue
            else:
                value, required = info, False
            skip_value = value is None or value == ""
            resolved, missing = self.resolve(value) if not skip_value else (None, False)
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

    def resolve(self, value: Any, quote: bool = False, depth: int = 0) -> tuple[Any, bool]:
        """InternalResolveMacros(): (value, a macro was missing). A lone macro keeps its type."""
        if depth > 15:
            raise EvalError("macros refer to each other in a loop")
        if isinstance(value, Function):
            return self.interp.call_function(value, lambda s: self.resolve(s, depth=depth + 1)[0]), False
        if isinstance(value, list):
            items = [self.resolve(v, depth=depth + 1) for v in value]
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
                found, v, recursive = self.macro(name)
                if isinstance(v, Function):
                    v = self.interp.call_function(v, lambda s: self.resolve(s, depth=depth + 1)[0])
                if recursive and isinstance(v, (str, list)) and not isinstance(v, Symbol):
                    v, inner = self.resolve(v, depth=depth + 1)
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

    def macro(self, name: str) -> tuple[bool, Any, bool]:
        """(found, value, resolve it again) for the macro `name`."""
        tokens = name.split(".")
        objname = tokens.pop(0) if len(tokens) > 1 else None
        if objname == "icinga":
            raise Untranslatable(f"${name}$ is Icinga 2 run-time data")
        for rname, attrs in self.resolvers:
            if objname is not None and objname != rname:
                continue
            if objname is None and name in (attrs.get("vars") or {}):
                return True, attrs["vars"][name], True
            runtime = tokens[0] in _RUNTIME or tokens[0].startswith(("num_services", "last_"))
            if runtime and rname in ("host", "service"):
                raise Untranslatable(f"${name}$ is run-time state with no watchd equivalent")
            if rname == "host" and tokens in (["address"], ["address6"], ["name"]):
                mapped = self.host_field(tokens[0], attrs)
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
