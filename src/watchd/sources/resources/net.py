"""`net`: per interface bytes/s, packets/s, errors/s and drops/s, received and sent.

Default interfaces: all but loopback. Errors and drops are rates too, so a counter that grew once
long ago does not alert forever; a steady trickle of drops does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil

from watchd.nagios.range import Thresholds
from watchd.sources import BuildContext, register
from watchd.sources.resources.base import Sampler
from watchd.sources.resources.params import Params
from watchd.sources.resources.rates import (
    Counters,
    DeviceFigures,
    RateTracker,
    baseline,
    judge_devices,
    per_s,
)
from watchd.sources.resources.verdict import Figure, Verdict

# (label suffix, psutil counter, uom, which thresholds, words)
_FIGURES = (
    ("rx_bytes_per_s", "bytes_recv", "B", "bytes", "rx"),
    ("tx_bytes_per_s", "bytes_sent", "B", "bytes", "tx"),
    ("rx_packets_per_s", "packets_recv", "", "packets", "rx packets"),
    ("tx_packets_per_s", "packets_sent", "", "packets", "tx packets"),
    ("rx_errors_per_s", "errin", "", "errors", "rx errors"),
    ("tx_errors_per_s", "errout", "", "errors", "tx errors"),
    ("rx_drops_per_s", "dropin", "", "drops", "rx drops"),
    ("tx_drops_per_s", "dropout", "", "drops", "tx drops"),
)


@dataclass(frozen=True, slots=True)
class NetThresholds:
    bytes: Thresholds = field(default_factory=Thresholds)  # rx or tx bytes/s
    packets: Thresholds = field(default_factory=Thresholds)
    errors: Thresholds = field(default_factory=Thresholds)  # rx or tx errors/s
    drops: Thresholds = field(default_factory=Thresholds)


def net_figures(nic: str, r: Mapping[str, float], t: NetThresholds) -> DeviceFigures:
    figures = [
        Figure(
            f"{nic}:{label}", r[counter], f"{nic} {words} {per_s(r[counter], uom)}", uom, getattr(t, which), 0
        )
        for label, counter, uom, which, words in _FIGURES
    ]
    errors = r["errin"] + r["errout"]
    drops = r["dropin"] + r["dropout"]
    ok = f"{nic} rx {per_s(r['bytes_recv'], 'B')} tx {per_s(r['bytes_sent'], 'B')}"
    if errors or drops:
        ok += f" ({errors:.1f} errors/s, {drops:.1f} drops/s)"
    return DeviceFigures(nic, figures, ok)


def _read_counters(interfaces: tuple[str, ...]) -> Counters:
    nics = psutil.net_io_counters(pernic=True)
    keep = set(interfaces) if interfaces else {n for n in nics if n != "lo"}
    return {
        nic: {counter: getattr(c, counter) for _, counter, *_ in _FIGURES}
        for nic, c in nics.items()
        if nic in keep
    }


class NetSampler(Sampler):
    kind = "NET"
    what = "network counters"

    def __init__(self, name: str, interfaces: tuple[str, ...], thresholds: NetThresholds, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.interfaces = interfaces
        self.thresholds = thresholds
        self.tracker = RateTracker()

    def _collect(self) -> tuple[float, Counters]:
        counters = _read_counters(self.interfaces)
        return self.clock.monotonic(), counters

    async def sample(self, timeout: float) -> Verdict:
        at, counters = await self.offloader.call(f"net:{self.name}", self._collect, timeout, self.what)
        rates = self.tracker.update(at, counters)
        if rates is None:
            return baseline()
        nics = [net_figures(nic, r, self.thresholds) for nic, r in sorted(rates.per_s.items())]
        missing = [n for n in self.interfaces if n not in counters]
        return judge_devices(nics, rates, missing, "interface")


@register("net")
def build_net(name: str, params: Mapping[str, Any], ctx: BuildContext) -> NetSampler:
    p = Params(params)
    interfaces = p.text_list("interfaces")
    thresholds = NetThresholds(
        bytes=p.thresholds("warning", "critical"),
        packets=p.thresholds("packets_warning", "packets_critical"),
        errors=p.thresholds("errors_warning", "errors_critical"),
        drops=p.thresholds("drops_warning", "drops_critical"),
    )
    p.done()
    return NetSampler(name, interfaces, thresholds)
