"""A minimal process that runs one `Bus` until killed: the stand-in for `watchd run` with an `mqtt:`
section, so tests can kill -9 a real process and watch its last will, or run several watchers.

    python bus_runner.py '{"host": "p1", "mqtt": {... the mqtt: section ...}}'

Prints JSON lines on stdout: {"event": "connected"}, {"event": "submit", "check", "state", "summary"}
for every fleet result, {"event": "stats", ...} on SIGUSR1, {"event": "stopped"} after SIGTERM (a clean
stop: status offline published by the bus itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import signal
import sys
import time

from watchd.bus import Bus, read_mqtt
from watchd.configkit.reader import Reader
from watchd.core.model import CheckResult
from watchd.runtime.clock import SystemClock


def emit(**fields: object) -> None:
    sys.stdout.write(json.dumps({"t": time.time(), **fields}) + "\n")
    sys.stdout.flush()


async def main(spec: dict[str, object]) -> None:
    problems: list[object] = []
    cfg = read_mqtt(Reader(spec["mqtt"], "mqtt", problems))  # type: ignore[arg-type]
    if problems or cfg is None:
        emit(event="error", problems=[str(p) for p in problems])
        raise SystemExit(2)

    async def submit(result: CheckResult) -> None:
        emit(event="submit", check=result.check, state=result.state.name, summary=result.summary)

    bus = Bus(cfg, str(spec["host"]), "test", SystemClock(), submit, rng=random.Random(1))
    await bus.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: emit(event="stats", **dataclasses.asdict(bus.stats)))
    announced = False
    while not stop.is_set():
        if bus.connected and not announced and (bus.fleet is None or bus.fleet.synced):
            announced = True
            emit(event="connected")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.02)
    await bus.stop()
    emit(event="stopped")


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
