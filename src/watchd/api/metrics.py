"""`GET /metrics`: Prometheus text format, read from the daemon at scrape time.

A custom Collector in a registry of its own (no global state): every perfdata value as
`watchd_perfdata{host,check,label}` in base units, check states, scheduler, outbox, MQTT and
incident figures. Units (docs/api.md): s/ms/us -> seconds; B/KB/MB/GB/TB -> bytes with 1024 steps
(as Nagios' check_disk means them; KiB.. are accepted too); % -> ratio 0..1; c and anything
else unchanged.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from watchd import __version__
from watchd.api.app import Api, mqtt_status, operation
from watchd.api.schemas import STR
from watchd.core.model import CheckResult, StateType
from watchd.core.priority import PRIORITIES
from watchd.delivery import outbox

routes = web.RouteTableDef()

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
QUANTILES = (0.5, 0.9, 0.99, 1.0)

_KI = 1024.0
UNIT_FACTORS: dict[str, float] = {
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "ns": 1e-9,
    "%": 0.01,
    "b": 1.0,
    "kb": _KI,
    "mb": _KI**2,
    "gb": _KI**3,
    "tb": _KI**4,
    "pb": _KI**5,
    "kib": _KI,
    "mib": _KI**2,
    "gib": _KI**3,
    "tib": _KI**4,
    "pib": _KI**5,
}


def normalise(value: float, uom: str) -> float:
    """A perfdata value in base units: seconds, bytes, ratio; counters and the rest unchanged."""
    factor = UNIT_FACTORS.get(uom.strip().lower())
    return value * factor if factor is not None else value


def quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile of sorted values."""
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(q * len(sorted_values) + 0.999999) - 1))
    return sorted_values[k]


Values = list[tuple[tuple[str, ...], float]]  # (label values, value) samples of one check


@dataclass(frozen=True, slots=True)
class PerCheck:
    """A gauge family with samples per check, computed from the check's status or last result.
    Statuses and results are immutable and replaced when they change, so their rendered text is
    cached by identity: a scrape renders only the checks that ran since the previous one."""

    name: str
    doc: str
    labels: tuple[str, ...]  # in sorted order, as the text format writes them
    source: str  # "status" or "result"
    values: Callable[[str, str, Any], Values]  # (check, host, status or result) -> samples


def _perfdata(check: str, host: str, r: CheckResult) -> Values:
    out: Values = []
    seen: set[str] = set()
    for p in r.perfdata:
        if p.value is None or p.label in seen:  # 'U' has no value; a repeated label keeps the first
            continue
        seen.add(p.label)
        out.append(((check, host, p.label), normalise(p.value, p.uom)))
    return out


PER_CHECK = (
    PerCheck("watchd_check_state", "current state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN", ("check",),
             "status", lambda c, h, st: [((c,), float(int(st.state)))]),
    PerCheck("watchd_check_hard", "1 when the current state is hard", ("check",),
             "status", lambda c, h, st: [((c,), 1.0 if st.state_type is StateType.HARD else 0.0)]),
    PerCheck("watchd_check_flapping", "1 while the check is flapping", ("check",),
             "status", lambda c, h, st: [((c,), 1.0 if st.flapping else 0.0)]),
    PerCheck("watchd_check_last_run_timestamp_seconds", "when the check last ran", ("check",),
             "status", lambda c, h, st: [((c,), st.last_check)] if st.last_check > 0 else []),
    PerCheck("watchd_check_duration_seconds", "run time of the last result", ("check",),
             "result", lambda c, h, r: [((c,), r.duration_s)]),
    PerCheck("watchd_perfdata", "perfdata of the last result, in base units (seconds, bytes, ratio 0..1)",
             ("check", "host", "label"), "result", _perfdata),
)  # fmt: skip


class DaemonCollector(Collector):
    def __init__(self, api: Api) -> None:
        self.api = api
        self._cache: dict[str, dict[str, tuple[object, str]]] = {f.name: {} for f in PER_CHECK}
        self._cache_host = ""

    def describe(self) -> list[Metric]:
        return []  # nothing to pre-register; collect() reads the daemon on each scrape

    def collect(self) -> Iterator[Metric]:
        """Every family as prometheus_client Metric objects (for any registry consumer)."""
        d = self.api.daemon
        host = d.config.host
        yield from self._info(d)
        for spec in PER_CHECK:
            fam = GaugeMetricFamily(spec.name, spec.doc, labels=list(spec.labels))
            source = self._source(d, spec)
            for check in sorted(source):
                for labels, value in spec.values(check, host, source[check]):
                    fam.add_metric(list(labels), value)
            yield fam
        yield from self._rest(d)

    def text(self) -> bytes:
        """The same as encode(collect()), with per-check families rendered from the cache."""
        d = self.api.daemon
        host = d.config.host
        if host != self._cache_host:
            self._cache = {f.name: {} for f in PER_CHECK}
            self._cache_host = host
        parts = [encode(self._info(d))]
        for spec in PER_CHECK:
            source = self._source(d, spec)
            old = self._cache[spec.name]
            new: dict[str, tuple[object, str]] = {}
            chunks = [_header(spec.name, spec.doc, "gauge")]
            for check in sorted(source):
                obj = source[check]
                hit = old.get(check)
                if hit is None or hit[0] is not obj:
                    lines = "".join(
                        _line(spec.name, dict(zip(spec.labels, labels, strict=True)), value)
                        for labels, value in spec.values(check, host, obj)
                    )
                    hit = (obj, lines)
                new[check] = hit
                chunks.append(hit[1])
            self._cache[spec.name] = new
            parts.append("".join(chunks).encode())
        parts.append(encode(self._rest(d)))
        return b"".join(parts)

    @staticmethod
    def _source(d: Any, spec: PerCheck) -> Mapping[str, Any]:
        statuses: Mapping[str, Any] = d.parts.state.statuses if d.parts is not None else {}
        if spec.source == "status":
            return statuses
        results: Mapping[str, Any] = getattr(d, "last_results", {})
        return {k: v for k, v in results.items() if k in statuses}  # not of removed checks

    def _rest(self, d: Any) -> Iterator[Metric]:
        yield from self._scheduler(d)
        if d.store is not None:
            yield from self._outbox(d)
            yield from self._incidents(d)
        mq = mqtt_status(d)
        yield _gauge("watchd_mqtt_enabled", "1 when an MQTT bus is configured", mq != "disabled")
        yield _gauge("watchd_mqtt_connected", "1 while connected to the MQTT broker", mq == "connected")

    def _info(self, d: Any) -> Iterator[Metric]:
        info = GaugeMetricFamily("watchd_build_info", "watchd version", labels=["host", "version"])
        info.add_metric([d.config.host, __version__], 1)
        yield info
        yield _gauge("watchd_checks_configured", "checks in the configuration", len(d.config.checks))
        yield CounterMetricFamily("watchd_results", "check results processed", value=d.results)

    def _scheduler(self, d: Any) -> Iterator[Metric]:
        stats = d.scheduler.stats
        yield CounterMetricFamily("watchd_checks_started", "check runs started", value=stats.started)
        yield CounterMetricFamily(
            "watchd_checks_skipped_overlap",
            "due times skipped because the previous run was still going",
            value=stats.skipped_overlap,
        )
        yield _gauge("watchd_checks_running", "check runs in progress", d.scheduler.running)
        samples = sorted(stats.lateness)
        late = Metric(
            "watchd_scheduler_lateness_seconds",
            "start lateness over the last 10000 starts (count and sum cover that window only)",
            "summary",
        )
        for q in QUANTILES:
            late.add_sample("watchd_scheduler_lateness_seconds", {"quantile": str(q)}, quantile(samples, q))
        late.add_sample("watchd_scheduler_lateness_seconds_count", {}, float(len(samples)))
        late.add_sample("watchd_scheduler_lateness_seconds_sum", {}, float(sum(samples)))
        yield late

    def _outbox(self, d: Any) -> Iterator[Metric]:
        backlog = outbox.backlog(d.store.db)
        deliverer = d.parts.deliverer if d.parts is not None else None
        channels = set(backlog) | set(deliverer.channels if deliverer is not None else ())
        fam = GaugeMetricFamily("watchd_outbox_backlog", "pending deliveries", labels=["channel"])
        failing = GaugeMetricFamily(
            "watchd_outbox_channel_failing", "1 while deliveries to the channel fail", labels=["channel"]
        )
        health = deliverer.health if deliverer is not None else {}
        for ch in sorted(channels):
            fam.add_metric([ch], backlog.get(ch, 0))
            h = health.get(ch)
            failing.add_metric([ch], 1 if h is not None and (h.failing_since or h.permanent) else 0)
        yield fam
        yield failing
        if deliverer is not None:
            yield CounterMetricFamily("watchd_outbox_delivered", "deliveries done", value=deliverer.delivered)
            yield CounterMetricFamily(
                "watchd_outbox_delivery_failures", "failed delivery attempts", value=deliverer.failures
            )

    def _incidents(self, d: Any) -> Iterator[Metric]:
        db = d.store.db
        now = self.api.now()
        open_ = GaugeMetricFamily("watchd_incidents_open", "open incidents", labels=["priority"])
        counts = dict(
            db.execute("SELECT priority, count(*) FROM incidents WHERE status = 'open' GROUP BY priority")
        )
        for p in sorted(set(PRIORITIES) | set(counts)):
            open_.add_metric([p], counts.get(p, 0))
        yield open_
        breached = GaugeMetricFamily(
            "watchd_incidents_sla_breached",
            "incidents whose response or resolution target was breached (all in the store)",
            labels=["kind", "priority"],
        )
        open_breached = GaugeMetricFamily(
            "watchd_incidents_open_sla_breached",
            "open incidents past their response or resolution target",
            labels=["kind", "priority"],
        )
        rows = db.execute(
            "SELECT priority,"
            " sum(response_breached_at IS NOT NULL"
            "     OR (acked_at IS NULL AND status = 'open' AND respond_by < ?)"
            "     OR (respond_by < coalesce(acked_at, resolved_at))),"
            " sum(resolution_breached_at IS NOT NULL OR (status = 'open' AND resolve_by < ?)"
            "     OR (resolve_by < resolved_at)),"
            " sum(status = 'open' AND (response_breached_at IS NOT NULL"
            "     OR (acked_at IS NULL AND respond_by < ?))),"
            " sum(status = 'open' AND (resolution_breached_at IS NOT NULL OR resolve_by < ?))"
            " FROM incidents GROUP BY priority",
            (now, now, now, now),
        ).fetchall()
        by_prio = {r[0]: r[1:] for r in rows}
        for p in sorted(set(PRIORITIES) | set(by_prio)):
            resp, reso, open_resp, open_reso = (int(x or 0) for x in by_prio.get(p, (0, 0, 0, 0)))
            breached.add_metric(["response", p], resp)
            breached.add_metric(["resolution", p], reso)
            open_breached.add_metric(["response", p], open_resp)
            open_breached.add_metric(["resolution", p], open_reso)
        yield breached
        yield open_breached


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value))


def registry_for(api: Api) -> CollectorRegistry:
    """A registry of its own holding only the daemon collector (no global state)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DaemonCollector(api))
    return registry


def encode(metrics: Iterable[Metric]) -> bytes:
    """The text format 0.0.4 of these metrics: what prometheus_client's generate_latest writes for
    gauges, counters and summaries with valid names (tests hold the two equal), several times
    faster, which matters with thousands of perfdata series on the event loop. Label names are
    declared in sorted order, as generate_latest would write them."""
    out: list[str] = []
    for m in metrics:
        out.append(_header(m.name + "_total" if m.type == "counter" else m.name, m.documentation, m.type))
        out += [_line(s.name, s.labels, s.value) for s in m.samples]
    return "".join(out).encode()


def _header(name: str, doc: str, kind: str) -> str:
    doc = doc.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {doc}\n# TYPE {name} {kind}\n"


def _line(name: str, labels: Mapping[str, str], value: float) -> str:
    if not labels:
        return f"{name} {_value(value)}\n"
    text = ",".join([f'{k}="{_escape(v)}"' for k, v in labels.items()])
    return f"{name}{{{text}}} {_value(value)}\n"


@functools.lru_cache(maxsize=65536)
def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _value(v: float) -> str:
    if v == v and v not in (math.inf, -math.inf):
        return repr(float(v))
    return "NaN" if v != v else "+Inf" if v > 0 else "-Inf"  # as Prometheus spells them


COLLECTOR: web.AppKey[DaemonCollector] = web.AppKey("watchd_metrics_collector")


@routes.get("/metrics")
@operation(
    "Prometheus metrics (text format 0.0.4)", "health",
    {"200": {"description": "OK", "content": {"text/plain": {"schema": STR}}}},
)
async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=request.app[COLLECTOR].text(), headers={"Content-Type": CONTENT_TYPE})
