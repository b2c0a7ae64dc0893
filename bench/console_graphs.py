"""How long the console takes to draw a resource graph (console.graphs.render) and to roll up its data.

    .venv/bin/python bench/console_graphs.py                 # 200 renders per graph
    .venv/bin/python bench/console_graphs.py --renders 1000

Each graph is what a console page asks for: one check's perfdata over a window (1h, 1d, 1w, 1month),
sampled every 60 s (with the scheduler's jitter) and an outage of a twelfth of the window, 1 or 4
series (waves with noise), thresholds set, drawn in Europe/Berlin. The rollup (samples into buckets)
is timed on its own (a page could cache it, the rendering not). Prints p50 and p99 per graph in
milliseconds, wall (what a request waits) and this thread's CPU (the same without the neighbours'
share of a busy machine), and the SVG size. Goal: 4 series of ~300 buckets well under 5 ms.
"""

from __future__ import annotations

import argparse
import math
import random
import time

from watchd.console.graphs import Series, render, sparkline
from watchd.console.rollup import WINDOWS, rollup

NOW = 1_795_000_000.0


def samples(window: float, phase: float, rng: random.Random) -> list[tuple[float, float | None]]:
    start = NOW - window
    outage = (start + window * 0.4, start + window * 0.4 + window / 12)  # 5 min in 1h, 2 h in 1d
    out: list[tuple[float, float | None]] = []
    t = start
    while t < NOW:
        if not outage[0] <= t < outage[1]:
            out.append((t, 1.5 + math.sin(t / 5000 + phase) + rng.random() * 0.4))
        t += 60 + rng.uniform(-1, 1)  # the scheduler's jitter
    return out


def percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return times[len(times) // 2] * 1000, times[min(len(times) - 1, int(len(times) * 0.99))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--renders", type=int, default=200)
    args = ap.parse_args()
    rng = random.Random(1)
    heads = ("buckets", "rollup p50", "render p50", "render p99", "CPU p50", "CPU p99", "SVG KiB")
    print(f"{'graph (times in ms)':22} " + " ".join(f"{h:>10}" for h in heads))
    for window_name, window in WINDOWS.items():
        raw = [samples(window, k, rng) for k in range(4)]
        for n in (1, 4):
            start = NOW - window
            rollup_times = []
            for _ in range(max(1, args.renders // 20)):  # the rollup is slower and cacheable: fewer runs
                t0 = time.perf_counter()
                rolled = [rollup(points, start, NOW) for points in raw[:n]]
                rollup_times.append(time.perf_counter() - t0)
            series = [Series(f"load{k}", r) for k, r in enumerate(rolled)]
            render_times, cpu_times = [], []
            for _ in range(args.renders):
                t0, c0 = time.perf_counter(), time.thread_time()
                svg = render(series, start, NOW, title=f"Load ({window_name})", now=NOW, warn="3", crit="4",
                             tz="Europe/Berlin")  # fmt: skip
                render_times.append(time.perf_counter() - t0)
                cpu_times.append(time.thread_time() - c0)
            buckets = sum(len(r.buckets) for r in rolled)
            r50, _ = percentiles(rollup_times)
            p50, p99 = percentiles(render_times)
            c50, c99 = percentiles(cpu_times)
            name = f"{window_name} x {n} series"
            print(
                f"{name:22} {buckets:>10} {r50:>10.2f} {p50:>10.2f} {p99:>10.2f} {c50:>10.2f} {c99:>10.2f} "
                f"{len(svg) / 1024:>10.1f}"
            )
    values: list[float | None] = [math.sin(i / 5) for i in range(60)]
    spark = []
    for _ in range(args.renders):
        t0 = time.perf_counter()
        sparkline(values, 100, 20, label="load1")
        spark.append(time.perf_counter() - t0)
    p50, p99 = percentiles(spark)
    print(f"{'sparkline (60 values)':22} {60:>10} {'':>10} {p50:>10.2f} {p99:>10.2f}")


if __name__ == "__main__":
    main()
