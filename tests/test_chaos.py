"""A short run of bench/chaos.py: kill -9 `watchd run` at random points of a few incidents' lives
(fault points, random delays, a broker outage) against real RT, SMTP and mosquitto, and nothing is
lost or duplicated. The 100-cycle run is the benchmark; this keeps the script working."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from servers.mosquitto import available
from servers.rt import RTUnavailable, ensure_installed

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "chaos.py"


def load_chaos() -> ModuleType:
    spec = importlib.util.spec_from_file_location("watchd_bench_chaos", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_short_chaos_run_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """Three cycles with a seed whose kills include fault points and a broker outage: every incident
    has one resolved RT ticket and each contact each notice once; no loss, no duplicate."""
    if why := available():
        pytest.skip(why)
    try:
        ensure_installed()
    except RTUnavailable as exc:
        pytest.skip(f"Request Tracker 5 could not be installed: {exc}")
    chaos = load_chaos()
    counts = chaos.run(cycles=3, seed=5, max_delay=1.0, work=tmp_path, outage=0.3, quiet=True)
    assert counts.at_faults > 0, "the seed should kill at a fault point"
    assert counts.outages > 0, "the seed should kill while the broker is down"
    assert (counts.duplicates, counts.losses) == (0, 0), counts.problems
    assert counts.incidents == counts.rt_tickets == 3
    assert counts.mails >= 3 * 6  # open, ack, resolve to two mail contacts
