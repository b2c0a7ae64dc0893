"""Overhead of resource sampling: the default resource set, sampled every second.

    python bench/sampling_overhead.py --seconds 60

Prints the process's CPU time as a percentage of one core (getrusage(RUSAGE_SELF) deltas over the
sampling period, so interpreter start-up and imports are not counted) and its peak RSS. Goal: < 1%.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import resource
import time

import watchd.sources.resources  # noqa: F401  (registers the types)
from watchd.sources import SOURCE_TYPES, BuildContext

DEFAULT_SET = ("cpu", "load", "memory", "swap", "disk", "disk_io", "net")


def cpu_seconds() -> tuple[float, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


async def sample(seconds: float, interval: float, timeout: float) -> None:
    ctx = BuildContext(host="bench", config_dir=".")
    sources = [SOURCE_TYPES[kind](kind, {}, ctx) for kind in DEFAULT_SET]
    states: collections.Counter[str] = collections.Counter()
    rounds = 0
    durations: list[float] = []
    loop = asyncio.get_running_loop()
    u0, s0 = cpu_seconds()
    w0 = time.monotonic()
    next_at = loop.time()
    while time.monotonic() - w0 < seconds:
        results = await asyncio.gather(*(s.run(timeout) for s in sources))
        rounds += 1
        for r in results:
            states[f"{r.check}:{r.state.name}"] += 1
            durations.append(r.duration_s)
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    wall = time.monotonic() - w0
    u1, s1 = cpu_seconds()
    cpu = (u1 - u0) + (s1 - s0)
    peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"checks: {', '.join(DEFAULT_SET)}; interval {interval:g} s; {rounds} rounds in {wall:.1f} s")
    print(f"CPU: {100 * cpu / wall:.3f}% of one core (user {u1 - u0:.3f} s, system {s1 - s0:.3f} s)")
    print(f"CPU per round: {1000 * cpu / rounds:.2f} ms for {len(sources)} checks")
    print(f"peak RSS: {peak_rss_kib / 1024:.1f} MiB")
    print(f"check duration (wall, incl. off-loop wait): mean {1000 * sum(durations) / len(durations):.2f} ms")
    print("states: " + ", ".join(f"{k}={v}" for k, v in sorted(states.items())))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=5.0, help="check timeout passed to run()")
    args = parser.parse_args()
    asyncio.run(sample(args.seconds, args.interval, args.timeout))


if __name__ == "__main__":
    main()
