"""What a `type: munin` check costs per run, with the plugin's config cached and read every run.

    .venv/bin/python bench/munin_run_cost.py                       # load, cpu, df, diskstats; 20 runs each
    .venv/bin/python bench/munin_run_cost.py --plugins load,memory --runs 50

Real plugins from Debian's munin-plugins-core, run in this process the way the daemon runs them
(sources/munin/source.py over the shared plugin executor). Prints wall time per run (what the check
takes) and this process's CPU per run (what watchd pays; the plugin's own CPU is not in it), once with
the config cached (`config_interval: 900`, the default) and once with `config_interval: 0` (config
before every fetch, which is what a cache saves). State goes to a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from watchd.sources import BuildContext, factory_for


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plugins", default="load,cpu,df,diskstats")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    factory = factory_for("munin")
    assert factory is not None
    with tempfile.TemporaryDirectory() as tmp:
        ctx = BuildContext("bench", tmp, data_dir=tmp)
        print(f"{'plugin':10} {'config':10} {'wall ms/run':>11} {'watchd CPU ms/run':>17}")
        for plugin in args.plugins.split(","):
            for interval, how in ((900, "cached"), (0, "every run")):
                src = factory(f"{plugin}-{interval}", {"plugin": plugin, "config_interval": interval}, ctx)
                await src.run(10)  # the first run reads the config either way
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(args.runs):
                    await src.run(10)
                wall = (time.perf_counter() - t0) / args.runs * 1000
                cpu = (time.process_time() - c0) / args.runs * 1000
                print(f"{plugin:10} {how:10} {wall:>11.1f} {cpu:>17.2f}")


if __name__ == "__main__":
    asyncio.run(main())
