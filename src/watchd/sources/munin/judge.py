"""From a plugin's config and one fetch to a Verdict, as Munin's master would judge it. Pure.

- Every field becomes perfdata: label = field name (`graph.field` for a multigraph plugin), unit from
  `graph_vlabel` where it is a unit Nagios knows, min/max from the field's `.min`/`.max`.
- DERIVE, COUNTER and ABSOLUTE fields are per-second rates between this fetch and the previous one
  (munin-limits' arithmetic): the first sample only primes (perfdata `U`), a COUNTER that went down
  is unknown, and a rate outside the field's declared min/max is unknown (rrdtool stores it as U).
- Thresholds: the field's own `warning`/`critical` in Munin's syntax (`max`, `min:max`, `:max`,
  `min:`) unless the check sets its own (Nagios ranges); warning and critical override separately.
- A `U` value in a field with thresholds turns UNKNOWN after `unknown_limit` (default 3, as in
  munin-limits) unknowns in a row; before that the field keeps its last state.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field

from watchd.core.model import PerfDatum, State
from watchd.nagios.range import Range, Thresholds
from watchd.plugin import worst
from watchd.sources.munin.protocol import Fetch, Field, Graph, Key, PluginConfig, Sample
from watchd.sources.verdict import Verdict, human_bytes

RATE_TYPES = frozenset({"DERIVE", "COUNTER", "ABSOLUTE"})
DEFAULT_UNKNOWN_LIMIT = 3
SUMMARY_FIELDS = 4  # fields named in an all-OK summary
# graph_vlabel texts that are a unit Nagios perfdata knows (anything else: no unit).
_UNITS = {"%": "%", "percent": "%", "bytes": "B", "byte": "B", "seconds": "s", "s": "s", "ms": "ms"}


@dataclass(frozen=True, slots=True)
class Override:
    """The check's own thresholds for the fields matching `pattern` (`field`, `graph.field`, globs)."""

    pattern: str
    warn: Range | None = None
    crit: Range | None = None

    def matches(self, key: Key) -> bool:
        graph, name = key
        return fnmatch.fnmatchcase(name, self.pattern) or (
            bool(graph) and fnmatch.fnmatchcase(f"{graph}.{name}", self.pattern)
        )


@dataclass(slots=True)
class FieldMemory:
    last: tuple[str, float, float] | None = None  # (clock kind, time, raw value) of a rate field
    unknowns: int = 0  # `U` values in a row
    state: State = State.OK  # kept while unknowns stay under the limit


@dataclass(slots=True)
class Memory:
    """What a munin check remembers between runs (the master side's RRD state, in short)."""

    fields: dict[Key, FieldMemory] = field(default_factory=dict)
    empty_runs: int = 0  # fetches in a row that printed no values at all

    def of(self, key: Key) -> FieldMemory:
        mem = self.fields.get(key)
        if mem is None:
            mem = self.fields[key] = FieldMemory()
        return mem


def munin_range(spec: str) -> Range | None:
    """Munin's `max`, `min:max`, `:max`, `min:` as a Nagios range; None for an empty `:`."""
    text = spec.strip()
    if ":" not in text:
        return Range.parse(f"~:{text}")  # a single number is an upper limit in Munin
    low, _, high = text.partition(":")
    low, high = low.strip(), high.strip()
    if not low and not high:
        return None
    return Range.parse(f"{low or '~'}:{high}")


def thresholds_for(
    key: Key, f: Field, overrides: Sequence[Override], problems: list[str]
) -> Thresholds:
    warn = crit = None
    for attr in ("warning", "critical"):
        spec = f.attrs.get(attr)
        if spec is None:
            continue
        try:
            r = munin_range(spec)
        except ValueError as exc:
            problems.append(f"{f.name}.{attr} {spec!r} ignored: {exc}")
            continue
        if attr == "warning":
            warn = r
        else:
            crit = r
    for o in overrides:  # the first match wins; the check's ranges replace the plugin's one by one
        if o.matches(key):
            warn = o.warn if o.warn is not None else warn
            crit = o.crit if o.crit is not None else crit
            break
    return Thresholds(warn, crit)


def unit_of(graph: Graph, f: Field) -> str:
    if f.type in RATE_TYPES:
        return ""
    vlabel = graph.attrs.get("vlabel", "").strip().lower()
    return _UNITS.get(vlabel, "")


def rate(f: Field, sample: Sample, mem: FieldMemory, now: float) -> tuple[float | None, str | None]:
    """(per-second value, None) or (None, why not); remembers the sample for the next run."""
    if sample.value is None:
        return None, "unknown (U)"
    kind, at = ("plugin", sample.at) if sample.at is not None else ("local", now)
    prev, mem.last = mem.last, (kind, at, sample.value)
    if f.type == "ABSOLUTE" and prev is not None and prev[0] == kind and at > prev[1]:
        return sample.value / (at - prev[1]), None
    if prev is None or prev[0] != kind:
        return None, "priming"
    dt = at - prev[1]
    if dt <= 0:
        mem.last = prev  # no time passed: keep the older sample
        return None, "priming"
    delta = sample.value - prev[2]
    if f.type == "COUNTER" and delta < 0:
        return None, "counter went down (reset or wrap)"
    return delta / dt, None


@dataclass(frozen=True, slots=True)
class _Figure:
    key: Key
    label: str  # perfdata label
    text: str  # how the summary names it
    value: float | None
    note: str | None
    perf: PerfDatum
    state: State
    thresholds: Thresholds


def _fmt(value: float) -> str:
    if abs(value) >= 1e6 and value == int(value):
        return f"{value:.0f}"
    return f"{value:.6g}"


def _show(value: float, unit: str, is_rate: bool) -> str:
    if is_rate:
        return f"{_fmt(value)}/s"
    if unit == "B":
        return human_bytes(value)
    return f"{_fmt(value)}{unit}" if unit == "%" else f"{_fmt(value)} {unit}" if unit else _fmt(value)


def _judge_field(
    key: Key,
    graph: Graph,
    f: Field,
    sample: Sample | None,
    multigraph: bool,
    overrides: Sequence[Override],
    mem: FieldMemory,
    now: float,
    problems: list[str],
) -> _Figure:
    note: str | None = None
    value: float | None
    if sample is None:
        value, note = None, "no value in the fetch"
    elif f.type in RATE_TYPES:
        value, note = rate(f, sample, mem, now)
    else:
        value = sample.value
        note = "unknown (U)" if value is None else None
    lo, hi = f.number("min"), f.number("max")
    if value is not None and f.type in RATE_TYPES and (
        (lo is not None and value < lo) or (hi is not None and value > hi)
    ):
        note = f"rate {_fmt(value)}/s outside min/max"
        value = None
    t = thresholds_for(key, f, overrides, problems)
    has_limits = t.warn is not None or t.crit is not None
    if value is not None:
        state = t.evaluate(value)
        mem.unknowns, mem.state = 0, state
    elif note == "priming" or not has_limits:
        state = State.OK
    else:
        mem.unknowns += 1
        limit = _unknown_limit(f)
        state = State.UNKNOWN if mem.unknowns >= limit else mem.state
    label = f"{key[0]}.{key[1]}" if multigraph else key[1]
    shown = label if multigraph else f.label  # sub-graphs repeat labels (`vda` for read and write)
    unit = unit_of(graph, f)
    text = f"{shown} {_show(value, unit, f.type in RATE_TYPES)}" if value is not None else f"{shown} {note}"
    perf = PerfDatum(
        label,
        None if value is None else round(value, 6),
        unit,
        None if t.warn is None else str(t.warn),
        None if t.crit is None else str(t.crit),
        lo,
        hi,
    )
    return _Figure(key, label, text, value, note, perf, state, t)


def _unknown_limit(f: Field) -> int:
    text = f.attrs.get("unknown_limit", "").strip()
    return max(int(text), 1) if text.isdigit() else DEFAULT_UNKNOWN_LIMIT


def evaluate(
    config: PluginConfig,
    fetch: Fetch,
    memory: Memory,
    now: float,
    overrides: Sequence[Override] = (),
) -> Verdict:
    """The verdict on one fetch; `now` (monotonic) times rate fields whose values carry no timestamp."""
    problems: list[str] = []
    if not fetch.samples:
        if fetch.problems.count:  # garbage
            why = f"plugin printed no values; {fetch.problems.count} line(s) not understood: "
            return _unknown(why + fetch.problems.describe())
        memory.empty_runs += 1
        if memory.empty_runs >= DEFAULT_UNKNOWN_LIMIT:
            return _unknown(f"plugin printed no values {memory.empty_runs} runs in a row")
        # Some plugins print nothing until they have a previous sample of their own (diskstats).
        problems.append(f"plugin printed no values (run {memory.empty_runs}; UNKNOWN from run "
                        f"{DEFAULT_UNKNOWN_LIMIT} in a row)")
    else:
        memory.empty_runs = 0
    multigraph = config.multigraph or fetch.multigraph
    declared = config.fields()
    samples = {s.key: s for s in fetch.samples}
    figures: list[_Figure] = []
    undeclared = [k for k in samples if k not in declared]
    graphs = {g.name: g for g in config.graphs}
    todo = [*declared.items()]
    # A field the config did not declare: a plain gauge.
    todo += [(k, (graphs.get(k[0], Graph(k[0], {}, ())), Field(k[1], {}))) for k in undeclared]
    for key, (graph, f) in todo:
        mem = memory.of(key)
        figures.append(
            _judge_field(key, graph, f, samples.get(key), multigraph, overrides, mem, now, problems)
        )
    for key in list(memory.fields):
        if key not in declared and key not in samples:
            del memory.fields[key]  # a field that went away: forget it
    return _verdict(config, fetch, figures, undeclared, problems, multigraph)


def _verdict(
    config: PluginConfig,
    fetch: Fetch,
    figures: list[_Figure],
    undeclared: list[Key],
    problems: list[str],
    multigraph: bool,
) -> Verdict:
    state = worst(*(f.state for f in figures))
    faults = []
    for f in figures:
        if f.state in (State.WARNING, State.CRITICAL):
            broken = f.thresholds.crit if f.state is State.CRITICAL else f.thresholds.warn
            extinfo = fetch.extinfo.get(f.key)
            faults.append(f"{f.text} ({f.state.name.lower()} {broken})" + (f": {extinfo}" if extinfo else ""))
        elif f.state is State.UNKNOWN:
            faults.append(f"{f.text} (unknown)")
    text = ", ".join(faults) if faults else _ok_text(config, figures, multigraph)
    lines = _long_output(config, figures)
    priming = sum(1 for f in figures if f.note == "priming")
    if priming:
        lines.insert(0, f"{priming} rate field(s) collecting their first sample; rates follow next run")
    reasons = []
    if undeclared:
        names = ", ".join(f"{g}.{n}" if g else n for g, n in undeclared[:5])
        reasons.append(f"fetch has field(s) the config does not declare: {names}")
    if fetch.problems.count:
        reasons.append(f"{fetch.problems.count} fetch line(s) not understood: {fetch.problems.describe()}")
    if config.problems.count:
        reasons.append(f"{config.problems.count} config line(s) not understood: {config.problems.describe()}")
    reasons += problems
    return Verdict(
        state, text, tuple(f.perf for f in figures), "\n".join(lines), "; ".join(reasons) or None
    )


def _unknown(why: str) -> Verdict:
    return Verdict(State.UNKNOWN, why, reason=why)


def _ok_text(config: PluginConfig, figures: list[_Figure], multigraph: bool) -> str:
    shown = [f.text for f in figures if f.value is not None][:SUMMARY_FIELDS]
    more = sum(1 for f in figures if f.value is not None) - len(shown)
    values = ", ".join(shown) + (f" (+{more} more)" if more > 0 else "")
    if multigraph:
        head = f"{len(config.graphs)} graphs, {len(figures)} fields"
    else:
        head = config.graphs[0].attrs.get("title", "") if config.graphs else ""
    if not values:
        priming = sum(1 for f in figures if f.note == "priming")
        tail = f"collecting the first sample of {priming} rate field(s)" if priming else "no values"
        return f"{head}: {tail}" if head else tail
    return f"{head}: {values}" if head else values


def _long_output(config: PluginConfig, figures: list[_Figure]) -> list[str]:
    by_graph: dict[str, list[_Figure]] = {}
    for f in figures:
        by_graph.setdefault(f.key[0], []).append(f)
    titles = {g.name: g.attrs.get("title", "") for g in config.graphs}
    lines = []
    for graph, figs in by_graph.items():
        title = titles.get(graph, "")
        if graph or title:
            lines.append(f"{graph}: {title}" if graph and title else graph or title)
        for f in figs:
            mark = "" if f.state is State.OK else f" [{f.state.name}]"
            lines.append(f"  {f.text}{mark}")
    return lines
