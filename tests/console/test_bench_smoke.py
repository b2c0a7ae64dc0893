"""A tiny run of bench/console_fleet.py (50 hosts x 5 checks, a 5 s window), so the benchmark cannot rot:
it must exit 0, print every figure, and its figures must describe the fleet it simulated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from servers.mosquitto import available

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "console_fleet.py"
FIGURES = (
    "hosts in view", "retained set in", "messages/s handled", "console CPU", "during the warm-up",
    "console RSS", "state change -> console p50", "p99", "probes", "GET /", "GET /hosts?customer=cust-00",
    "checks in history", "publishers CPU", "mosquitto CPU", "load average",
)  # fmt: skip


def test_bench_runs_and_prints_its_figures(tmp_path: Path) -> None:
    if why := available():
        pytest.skip(why)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--hosts", "50", "--checks", "5", "--seconds", "5", "--warmup", "2",
         "--probes", "20", "--json", str(out)],
        capture_output=True, text=True, timeout=180, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for figure in FIGURES:
        assert figure in proc.stdout, f"{figure!r} missing from the report:\n{proc.stdout}"
    r = json.loads(out.read_text())
    assert r["hosts"] == 50
    assert r["retained_set_s"] is not None, "the console never logged that the retained set was in"
    assert r["history_checks"] == 50 * 5, "the console missed part of the retained set"
    assert r["retained_published"] > 50 + 50 * 5  # statuses, states, and at least one open incident
    assert 0 < r["console_cpu_pct"] < 100
    assert r["rss_mb"] > 10
    assert r["messages_per_s"] > 0
    assert r["published_per_s"] > 0
    assert r["probes"] >= 10, r.get("probe_note")
    assert r["probe_timeouts"] == 0
    assert 0 < r["latency_p50_ms"] <= r["latency_p99_ms"] <= r["latency_max_ms"] < 30_000
    assert set(r["renders"]) == {"/", "/hosts?customer=cust-00", "/hosts"}, r.get("render_note")
    counts = r["dashboard_counts"]
    assert (counts["hosts"], counts["checks"]) == (50, 250)
    assert counts["problems"] >= 2, "each publisher keeps at least one check in trouble"
