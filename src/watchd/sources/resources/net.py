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
from watchd.sources.params import Params
from watchd.sources.resources.base import RateSampler
from watchd.sources.resources.rates import (
    Counters,
    DeviceFigures,
    per_s,
)
from watchd.sources.verdict import Figure

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


class NetSampler(RateSampler):
    kind = "NET"
    what = "network counters"
    noun = "interface"

    def read_counters(self, names: tuple[str, ...]) -> Counters:
        return _read_counters(names)

    def figures(self, name: str, rates: Mapping[str, float]) -> DeviceFigures:
        return net_figures(name, rates, self.thresholds)


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
