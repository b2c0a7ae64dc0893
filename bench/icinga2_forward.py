"""Forwarding results to a real Icinga 2: what the pipeline pays per result, and how fast the backlog drains.

    .venv/bin/python bench/icinga2_forward.py                 # 2000 results over 20 services, batch 1 and 20
    .venv/bin/python bench/icinga2_forward.py --results 500 --batch 1,5,20

Starts the hermetic Icinga 2 of tests/servers/icinga2.py on a free 127.0.0.1 port (Debian `icinga2`),
then, per batch size, an Icinga2Forwarder in this process:

- enqueue: `forward()` for every result while the sender is held back (what the pipeline's ForwardStage
  costs per result: mapping, JSON body, backlog), in microseconds per result;
- drain: from the first `forward()` until Icinga accepted every result, results per second, and this
  process's CPU time per result (the sender's share of watchd's CPU).

Everything stays on 127.0.0.1, the run is bounded by `--results`, and Icinga is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from servers.icinga2 import WATCHD, start_icinga2
from watchd.core.model import CheckResult, PerfDatum, State
from watchd.delivery.icinga2.forwarder import Icinga2Forwarder
from watchd.delivery.icinga2.settings import Icinga2Settings

SERVICES = 20


def objects() -> str:
    passive = 'check_command = "passive"; enable_active_checks = false'
    lines = [f'object Host "bench" {{ {passive} }}']
    lines += [f'object Service "s{i}" {{ host_name = "bench"; {passive} }}' for i in range(SERVICES)]
    return "\n".join(lines)


def results(n: int) -> list[CheckResult]:
    now = time.time()
    perf = (PerfDatum("time", 0.012, "s", "1", "2", 0.0), PerfDatum("size", 5120.0, "B"))
    return [
        CheckResult(f"s{i % SERVICES}", State(i % 3), f"BENCH {i}", perfdata=perf, started_at=now + i * 1e-3)
        for i in range(n)
    ]


async def one_run(url: str, ca: str, n: int, batch: int) -> tuple[float, float, float]:
    s = Icinga2Settings(
        url=url, host="bench", username=WATCHD[0], password=WATCHD[1], ca_file=ca, batch=batch,
        queue_size=n, retry_min=0.05, retry_max=0.5,
    )  # fmt: skip
    fwd = Icinga2Forwarder(s, "bench")
    todo = results(n)
    t0 = time.perf_counter()
    for r in todo:  # the sender has not started: this is the pipeline's cost alone
        fwd.forward(r)
    enqueue_us = (time.perf_counter() - t0) / n * 1e6
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await fwd.start()
    while fwd.sent + fwd.rejected < n:  # noqa: ASYNC110 - the forwarder exposes counters, not an event
        await asyncio.sleep(0.01)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    await fwd.stop()
    assert fwd.rejected == 0, f"{fwd.rejected} results rejected"
    return enqueue_us, n / wall, cpu / n * 1e3


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", type=int, default=2000)
    ap.add_argument("--batch", default="1,20")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, start_icinga2(Path(tmp), objects=objects()) as icinga:
        print(f"Icinga 2 on {icinga.url}, {args.results} results, {SERVICES} services, {os.cpu_count()} CPUs")
        head = ("batch", "enqueue us/result", "drained results/s", "sender CPU ms/result")
        print(f"{head[0]:>5}  {head[1]:>17}  {head[2]:>17}  {head[3]:>20}")
        for batch in (int(b) for b in args.batch.split(",")):
            enq, rate, cpu_ms = await one_run(icinga.url, str(icinga.pki.ca), args.results, batch)
            print(f"{batch:>5}  {enq:>17.1f}  {rate:>17.0f}  {cpu_ms:>20.3f}")


if __name__ == "__main__":
    asyncio.run(main())
