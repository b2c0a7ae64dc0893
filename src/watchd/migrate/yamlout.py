"""A `Migration` as a commented watchd YAML file. Pure: text out.

Two shapes. A conf.d fragment (the default) may only hold `checks` and `macros` (docs/configuration.md), so
contacts, calendars and the renotify interval are written after it as a commented block to paste into
watchd.yaml, and a check's contacts as a commented `notify:` line. A full file (`full=True`) is a complete
watchd.yaml with all of them live. Either way each check says where it came from (file:line).
"""

from __future__ import annotations

import functools
import json
import re

import yaml

from watchd.migrate.model import Check, Migration

# What YAML does not allow unescaped, or folds as a line break (JSON escapes the C0 controls already).
_UNPRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
# Plain scalars that cannot be anything but a string once the resolver says "str": no indicator first,
# no blanks, no flow characters, `:` only inside (and never in a flow list).
_WORD = r"^(?:[A-Za-z0-9_/$]|-[A-Za-z0-9_/$-])[A-Za-z0-9_./@$+=%-]*"
_SAFE_BLOCK = re.compile(_WORD + r"(?::[A-Za-z0-9_./@$+=%-]+)*$")
_SAFE_FLOW = re.compile(_WORD + "$")
_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"
_PLAIN = re.compile(r"^[A-Za-z0-9_/$-][A-Za-z0-9_./@$+=:%-]*$")


def scalar(value: object, flow: bool = False) -> str:
    """A YAML scalar that reads back as `value`: plain where that is unambiguous, else double-quoted.
    `flow`: for an item of a `[...]` list, where `:` is not safe unquoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    text = str(value)
    safe = _SAFE_FLOW if flow else _SAFE_BLOCK
    if safe.match(text) and _implicit_tag(text) == _STR:
        return text
    if _PLAIN.match(text) and _reads_back(text):
        return text
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", json.dumps(text, ensure_ascii=False))


def _implicit_tag(text: str) -> str:
    """The type YAML gives this text written plain (str, int, bool, null, ...)."""
    return str(_RESOLVER.resolve(yaml.ScalarNode, text, (True, False)))  # type: ignore[no-untyped-call]


@functools.lru_cache(maxsize=4096)
def _reads_back(text: str) -> bool:
    """The slow, sure test for the plain forms the fast patterns do not cover."""
    try:
        return bool(
            yaml.safe_load(f"k: [{text}]") == {"k": [text]} and yaml.safe_load(f"{text}: k") == {text: "k"}
        )
    except yaml.YAMLError:
        return False


def comment(text: object) -> str:
    """Text for a `#` comment: one line whatever the source held."""
    return re.sub(r"[\r\n\x85\u2028\u2029]+", " ", str(text))


def flow(items: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(scalar(i, flow=True) for i in items) + "]"


def duration(seconds: float) -> str:
    if seconds > 0 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds > 0 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


def render(m: Migration, command: str, full: bool = False, timezone: str = "UTC") -> str:
    skipped = [f for f in m.findings if f.skipped]
    out = [
        f"# Written by `{command}`.",
        f"# {len(m.checks)} checks from {m.source}; {len(skipped)} things could not be translated"
        " (listed at the end and on stderr). Each check names the file:line it came from.",
    ]
    if not full:
        out.append("# A conf.d file: it may hold only checks and macros; the rest is at the end, commented.")
    out.append("")
    main = _main_sections(m, timezone)
    if full:
        if m.host:
            out += [f"host: {scalar(m.host)}", ""]
        out += main
    out += _macros(m)
    out += _checks(m, live_notify=full)
    if main and not full:
        out += ["", "# --- for watchd.yaml (conf.d files may not hold these sections) ---"]
        out += [f"# {line}" if line else "#" for line in main]
    if skipped or any(not f.skipped for f in m.findings):
        out += ["", "# --- not translated (and notes) ---"]
        out += [f"# {comment(f)}" for f in m.findings]
    return "\n".join(out).rstrip() + "\n"


def _main_sections(m: Migration, timezone: str) -> list[str]:
    out: list[str] = []
    if m.contacts:
        out.append("contacts:")
        for c in m.contacts:
            out.append(f"  # from {comment(c.origin)}")
            out.append(f"  {scalar(c.name)}:")
            out.append("    kind: oncall")
            if c.display_name:
                out.append(f"    name: {scalar(c.display_name)}")
            out.append(f"    email: {flow(c.email)}")
        out.append("")
    if m.calendars:
        out += ["incidents:", "  calendars:  # usable as an SLA clock: incidents.targets.P1.clock: NAME"]
        for cal in m.calendars:
            out.append(
                f"    # from {comment(cal.origin)}" + (f"; {comment(cal.comment)}" if cal.comment else "")
            )
            out.append(f"    {scalar(cal.name)}:")
            out.append(f"      timezone: {scalar(timezone)}")
            out.append(f"      days: {flow(cal.days)}")
            out.append(f"      hours: {scalar(cal.hours)}")
            if cal.holidays:
                out.append(f"      holidays: {flow([d.isoformat() for d in cal.holidays])}")
        out.append("")
    if m.renotify_interval is not None:
        out += [
            "notify:",
            f"  renotify_interval: {duration(m.renotify_interval)}  # the source's notification interval",
            "",
        ]
    return out


def _macros(m: Migration) -> list[str]:
    if not m.macros:
        return []
    out = ["macros:"]
    for name in sorted(m.macros):
        mac = m.macros[name]
        out.append(f"  # {comment(mac.comment or 'from')} ({comment(mac.origin)})")
        out.append(f"  {name}: {scalar(mac.value)}")
    return [*out, ""]


def _checks(m: Migration, live_notify: bool) -> list[str]:
    if not m.checks:
        return ["checks: {}"]
    out = ["checks:"]
    for c in m.checks:
        out += _check(c, live_notify)
    return out


def _check(c: Check, live_notify: bool) -> list[str]:
    out = [
        f"  # from {comment(c.origin)}: {comment(c.comments[0])}" if c.comments else f"  # from {c.origin}"
    ]
    out += [f"  # {comment(line)}" for line in c.comments[1:]]
    out.append(f"  {scalar(c.name)}:")
    out.append(f"    command: {flow(c.command)}")
    if c.description:
        out.append(f"    description: {scalar(c.description)}")
    if c.env:
        out.append("    env: {" + ", ".join(f"{scalar(k)}: {scalar(v)}" for k, v in c.env.items()) + "}")
    for key in ("interval", "retry_interval", "timeout"):
        v = getattr(c, key)
        if v is not None:
            out.append(f"    {key}: {duration(v)}")
    if c.max_attempts is not None:
        out.append(f"    max_attempts: {c.max_attempts}")
    if c.timeout_state is not None:
        out.append(f"    timeout_state: {c.timeout_state}")
    if not c.enabled:
        out.append("    enabled: false")
    if c.flap_detection is not None:
        out.append(f"    flap_detection: {scalar(c.flap_detection)}")
    for key in ("flap_low", "flap_high"):
        v = getattr(c, key)
        if v is not None:
            out.append(f"    {key}: {scalar(v)}")
    if c.tags:
        out.append(f"    tags: {flow(c.tags)}")
    if c.depends_on:
        out.append(f"    depends_on: {flow(c.depends_on)}")
    if c.notify is not None:
        if live_notify or not c.notify:
            out.append(f"    notify: {flow(c.notify)}")
        else:
            out.append(f"    # notify: {flow(c.notify)}  (once these contacts are in watchd.yaml)")
    return out
