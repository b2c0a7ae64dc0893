"""Rates from cumulative counters (disk_io, net): baseline, resets, per-device figures."""

from __future__ import annotations

import pytest

from watchd.core.model import State
from watchd.nagios.range import Thresholds
from watchd.sources.resources.disk_io import DiskIoThresholds, disk_io_figures
from watchd.sources.resources.net import NetThresholds, net_figures
from watchd.sources.resources.rates import Rates, RateTracker, judge_devices, per_s


def test_first_sample_is_baseline_only() -> None:
    """No previous sample, no rate: None, never zeros."""
    assert RateTracker().update(10.0, {"eth0": {"bytes": 100}}) is None


@pytest.mark.parametrize(
    ("first", "second", "dt", "per_s_", "new", "reset"),
    [
        pytest.param({"e": {"b": 100}}, {"e": {"b": 300}}, 2.0, {"e": {"b": 100.0}}, (), (), id="rate"),
        pytest.param(
            {"e": {"b": 100}},
            {"e": {"b": 100}, "f": {"b": 5}},
            1.0,
            {"e": {"b": 0.0}},
            ("f",),
            (),
            id="new-device-baseline",
        ),
        pytest.param(
            {"e": {"b": 100, "p": 5}},
            {"e": {"b": 10, "p": 6}},
            1.0,
            {},
            (),
            ("e",),
            id="counter-went-backwards",
        ),
        pytest.param(
            {"e": {"b": 1}, "g": {"b": 1}}, {"e": {"b": 2}}, 1.0, {"e": {"b": 1.0}}, (), (), id="device-gone"
        ),
    ],
)
def test_rates(
    first: dict[str, dict[str, float]],
    second: dict[str, dict[str, float]],
    dt: float,
    per_s_: dict[str, dict[str, float]],
    new: tuple[str, ...],
    reset: tuple[str, ...],
) -> None:
    """Per-second deltas; new devices and reset counters get a baseline instead of a bogus rate."""
    tracker = RateTracker()
    tracker.update(100.0, first)
    rates = tracker.update(100.0 + dt, second)
    assert rates == Rates(per_s_, dt, new, reset)


def test_reset_device_gets_a_rate_next_time() -> None:
    """After a reset the new value is the baseline, so the following run has a rate again."""
    tracker = RateTracker()
    tracker.update(0.0, {"e": {"b": 100}})
    tracker.update(1.0, {"e": {"b": 10}})
    rates = tracker.update(2.0, {"e": {"b": 30}})
    assert rates is not None
    assert rates.per_s == {"e": {"b": 20.0}}


def test_zero_interval_keeps_the_baseline() -> None:
    """Two samples at the same instant give no rate and do not move the baseline."""
    tracker = RateTracker()
    tracker.update(5.0, {"e": {"b": 0}})
    assert tracker.update(5.0, {"e": {"b": 50}}) is None
    rates = tracker.update(6.0, {"e": {"b": 100}})
    assert rates is not None
    assert rates.per_s == {"e": {"b": 100.0}}


NIC = {
    "bytes_recv": 2048.0,
    "bytes_sent": 1024.0,
    "packets_recv": 10.0,
    "packets_sent": 5.0,
    "errin": 0.0,
    "errout": 0.0,
    "dropin": 3.0,
    "dropout": 0.0,
}


@pytest.mark.parametrize(
    ("thresholds", "state", "words"),
    [
        pytest.param(
            NetThresholds(), State.OK, "eth0 rx 2.0 KiB/s tx 1.0 KiB/s (0.0 errors/s, 3.0 drops/s)", id="ok"
        ),
        pytest.param(
            NetThresholds(drops=Thresholds("1", "5")),
            State.WARNING,
            "eth0 rx drops 3.0/s (warning 1)",
            id="drops-warning",
        ),
        pytest.param(
            NetThresholds(bytes=Thresholds(crit="1500")),
            State.CRITICAL,
            "eth0 rx 2.0 KiB/s (critical",
            id="bandwidth",
        ),
    ],
)
def test_net_evaluation(thresholds: NetThresholds, state: State, words: str) -> None:
    """Bytes, packets, errors and drops per second, each direction against the same range."""
    rates = Rates({"eth0": NIC}, 1.0)
    v = judge_devices([net_figures("eth0", NIC, thresholds)], rates, [], "interface")
    assert v.state is state
    assert words in v.text
    assert [p.label for p in v.perfdata] == [
        "eth0:rx_bytes_per_s",
        "eth0:tx_bytes_per_s",
        "eth0:rx_packets_per_s",
        "eth0:tx_packets_per_s",
        "eth0:rx_errors_per_s",
        "eth0:tx_errors_per_s",
        "eth0:rx_drops_per_s",
        "eth0:tx_drops_per_s",
    ]


def test_disk_io_busy_percent() -> None:
    """busy_time is milliseconds per second: 450 ms/s is 45% busy."""
    r = {
        "read_bytes": 1 << 20,
        "write_bytes": 0.0,
        "read_count": 30.0,
        "write_count": 0.0,
        "busy_time": 450.0,
    }
    dev = disk_io_figures("vda", r, DiskIoThresholds(busy=Thresholds("40", "90")))
    v = judge_devices([dev], Rates({"vda": r}, 1.0), [], "device")
    assert v.state is State.WARNING
    assert "vda 45.0% busy (warning 40)" in v.text
    assert {p.label: p.value for p in v.perfdata}["vda:read_bytes_per_s"] == 1 << 20


def test_missing_named_device_is_unknown() -> None:
    """A device named in the config but absent is UNKNOWN, with its name."""
    v = judge_devices([], Rates({}, 1.0), ["sdz"], "device")
    assert v.state is State.UNKNOWN
    assert v.text == "device sdz not found"


@pytest.mark.parametrize(
    ("value", "uom", "text"),
    [
        (500, "B", "500 B/s"),
        (2048, "B", "2.0 KiB/s"),
        (3 << 20, "B", "3.0 MiB/s"),
        (2.5, "", "2.5/s"),
    ],
)
def test_per_s(value: float, uom: str, text: str) -> None:
    """Rates read as B/s, KiB/s, ... or a plain count per second."""
    assert per_s(value, uom) == text
