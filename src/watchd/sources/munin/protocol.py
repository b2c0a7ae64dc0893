"""What a Munin plugin prints, parsed. Pure: text in, typed values out, every bad line counted.

`plugin config` prints graph attributes (`graph_title Load average`) and field attributes
(`load.label load`, `load.warning 10`); `plugin` (fetch) prints `field.value 0.72` (or
`field.value EPOCH:VALUE`, or `U` for unknown). A multigraph plugin switches graphs with
`multigraph NAME` lines in both outputs. Comments (`#`) and blank lines are ignored; anything else that
does not parse is a problem, kept with its line number so a result can say what was wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# Munin's field names: a letter or underscore, then letters, digits, underscores.
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GRAPH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
MAX_PROBLEMS = 20  # kept per output; the count goes on

Key = tuple[str, str]  # (graph, field); graph "" for a plugin without multigraph


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    attrs: Mapping[str, str]

    @property
    def label(self) -> str:
        return self.attrs.get("label", self.name)

    @property
    def type(self) -> str:
        """GAUGE, DERIVE, COUNTER or ABSOLUTE (Munin's default is GAUGE)."""
        return self.attrs.get("type", "GAUGE").upper()

    def number(self, attr: str) -> float | None:
        """A numeric attribute (`min`, `max`), None when absent or not a number."""
        text = self.attrs.get(attr, "").strip()
        return float(text) if _NUMBER.match(text) else None


@dataclass(frozen=True, slots=True)
class Graph:
    name: str
    attrs: Mapping[str, str]  # graph_title, graph_vlabel, ... (keys without the graph_ prefix)
    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class Problems:
    count: int = 0
    first: tuple[str, ...] = ()  # "line 3: 'what' (why)", at most MAX_PROBLEMS

    def describe(self) -> str:
        more = f" (+{self.count - len(self.first)} more)" if self.count > len(self.first) else ""
        return "; ".join(self.first) + more


@dataclass(frozen=True, slots=True)
class PluginConfig:
    graphs: tuple[Graph, ...]
    multigraph: bool
    problems: Problems = field(default_factory=Problems)

    def fields(self) -> dict[Key, tuple[Graph, Field]]:
        return {(g.name, f.name): (g, f) for g in self.graphs for f in g.fields}


@dataclass(frozen=True, slots=True)
class Sample:
    graph: str
    field: str
    value: float | None  # None: `U`, unknown
    at: float | None = None  # the plugin's own timestamp (`EPOCH:VALUE`), if it gave one

    @property
    def key(self) -> Key:
        return (self.graph, self.field)


@dataclass(frozen=True, slots=True)
class Fetch:
    samples: tuple[Sample, ...]
    extinfo: Mapping[Key, str]
    multigraph: bool
    problems: Problems = field(default_factory=Problems)


class _Collector:
    def __init__(self) -> None:
        self.count = 0
        self.first: list[str] = []

    def add(self, lineno: int, line: str, why: str) -> None:
        self.count += 1
        if len(self.first) < MAX_PROBLEMS:
            shown = line if len(line) <= 60 else line[:57] + "..."
            self.first.append(f"line {lineno}: {shown!r} ({why})")

    def done(self) -> Problems:
        return Problems(self.count, tuple(self.first))


def _lines(text: str) -> list[tuple[int, str]]:
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line and not line.startswith("#") and line != ".":
            out.append((n, line))
    return out


def _split(line: str) -> tuple[str, str]:
    key, _, value = line.partition(" ")
    if "\t" in key:
        key, _, rest = key.partition("\t")
        value = f"{rest} {value}".strip()
    return key, value.strip()


def parse_config(text: str) -> PluginConfig:
    """The graphs and fields that `plugin config` declares, in the order it declares them."""
    problems = _Collector()
    graphs: dict[str, tuple[dict[str, str], dict[str, dict[str, str]]]] = {}
    current = ""
    multigraph = False
    for n, line in _lines(text):
        key, value = _split(line)
        if key == "multigraph":
            if not _GRAPH.match(value):
                problems.add(n, line, "not a graph name")
                continue
            multigraph, current = True, value
            graphs.setdefault(current, ({}, {}))
            continue
        attrs, fields = graphs.setdefault(current, ({}, {}))
        if key.startswith("graph_") or key in ("graph", "host_name", "update_rate", "create_args"):
            attrs[key.removeprefix("graph_")] = value
            continue
        name, dot, attr = key.rpartition(".")
        if not dot or not attr:
            problems.add(n, line, "expected graph_<attr> or <field>.<attr>")
            continue
        name = name.rpartition(".")[2]  # `graph.field.attr` addresses a field of a sub-graph
        if not _FIELD.match(name):
            problems.add(n, line, "not a field name")
            continue
        if attr == "value":  # a "dirty config" value: the fetch that follows is what counts
            continue
        fields.setdefault(name, {})[attr] = value
    out = tuple(
        Graph(name, attrs, tuple(Field(f, fa) for f, fa in fields.items()))
        for name, (attrs, fields) in graphs.items()
        if fields or attrs
    )
    return PluginConfig(out, multigraph, problems.done())


def parse_value(text: str) -> tuple[float | None, float | None]:
    """`0.72` -> (0.72, None); `1700000000:42` -> (42.0, 1700000000.0); `U` -> (None, None).
    ValueError for anything else (including NaN and infinities, which Munin would store as U)."""
    at: float | None = None
    body = text.strip()
    if ":" in body:
        stamp, _, body = body.partition(":")
        if not stamp.isdigit():
            raise ValueError("timestamp is not a number")
        at = float(stamp)
    if body == "U":
        return None, at
    if not _NUMBER.match(body):
        raise ValueError("not a number or U")
    value = float(body)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value, at


def parse_fetch(text: str) -> Fetch:
    """The values of one fetch, graph by graph; `field.extinfo` texts are kept for the summary."""
    problems = _Collector()
    samples: list[Sample] = []
    extinfo: dict[Key, str] = {}
    current = ""
    multigraph = False
    for n, line in _lines(text):
        key, value = _split(line)
        if key == "multigraph":
            if not _GRAPH.match(value):
                problems.add(n, line, "not a graph name")
                continue
            multigraph, current = True, value
            continue
        name, dot, attr = key.rpartition(".")
        if not dot or not _FIELD.match(name):
            problems.add(n, line, "expected <field>.value <number>")
            continue
        if attr == "extinfo":
            extinfo[(current, name)] = value
            continue
        if attr != "value":
            problems.add(n, line, f"unexpected attribute {attr!r} in a fetch")
            continue
        try:
            number, at = parse_value(value)
        except ValueError as exc:
            problems.add(n, line, str(exc))
            continue
        samples.append(Sample(current, name, number, at))
    return Fetch(tuple(samples), extinfo, multigraph, problems.done())


@dataclass(frozen=True, slots=True)
class Markers:
    """The magic markers (`#%# family=auto`, `#%# capabilities=autoconf suggest`)."""

    family: str | None = None
    capabilities: frozenset[str] = frozenset()


def parse_markers(text: str) -> Markers:
    family: str | None = None
    caps: set[str] = set()
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("#%#"):
            continue
        in_caps = False  # `capabilities=autoconf suggest`: the bare words after it belong to it
        for word in line[3:].split():
            key, eq, value = word.partition("=")
            if eq:
                in_caps = key == "capabilities"
                if key == "family":
                    family = value
                elif in_caps and value:
                    caps.add(value)
            elif in_caps:
                caps.add(word)
    return Markers(family, frozenset(caps))


def parse_autoconf(text: str) -> tuple[bool, str]:
    """`yes` or `no (reason)`: whether the plugin says it can run here, and its words."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first.lower().startswith("yes"), first
