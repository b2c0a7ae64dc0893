"""Fleet watching at scale: N simulated peers heartbeating through one local mosquitto to one watcher.

    /work/venv/bin/python bench/fleet_watch.py                          # 1,000 and 10,000 peers, 60 s windows
    /work/venv/bin/python bench/fleet_watch.py --peers 10000 --seconds 20
    /work/venv/bin/python bench/fleet_watch.py --quick                  # 10 s windows, a smoke run

Three processes besides this one, so each is measured alone:
- mosquitto (started here on a free 127.0.0.1 port, via tests/servers/mosquitto.py);
- the simulator (`--sim`): a few paho connections publish, on behalf of N peers, each peer's retained
  online status once and then its heartbeat every `--interval` seconds (spread evenly); it also runs
  `--deaths` real peers, each on its own connection with a last will;
- the watcher (`--watcher`): the real `watchd.bus.Bus` with `peers: all`, whose submit callback prints
  every fleet result with a timestamp.

Sequence: sim up (statuses retained) -> watcher up and synced -> `--warmup` s -> measuring window of
`--seconds`: the watcher's CPU (RUSAGE_SELF: every thread) as % of one core, its RSS at the end and its
peak, mosquitto's CPU for context, and false alarms (any CRITICAL in the window must not happen) ->
deaths, 0.5 s apart: half "last will as the broker would publish it" (the sim publishes the retained
offline status), half real (the sim kills the TCP connection of a real peer, so mosquitto publishes its
will). Detection = time of the watcher's `fleet.<peer>` CRITICAL callback - time of the death (same
machine clock); p50 and max are printed. Goal: 10,000 peers under 25% of one core, detection < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GOAL_CPU = 25.0
GOAL_DETECT_S = 1.0


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


# -- the watcher process ----------------------------------------------------------------------------


def _proc_status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


async def watcher(port: int, interval: float, timeout: float) -> None:
    from watchd.bus import Bus
    from watchd.bus.config import MqttConfig
    from watchd.core.model import CheckResult
    from watchd.runtime.clock import SystemClock

    cfg = MqttConfig(
        host="127.0.0.1", port=port, heartbeat_interval=interval, peers=("*",), peer_timeout=timeout
    )

    async def submit(result: CheckResult) -> None:
        emit(submit=result.check, state=result.state.name, t=time.time())

    bus = Bus(cfg, "watcher", "bench", SystemClock(), submit, rng=random.Random(1))
    t0 = time.monotonic()
    await bus.start()
    while bus.fleet is None or not bus.fleet.synced:  # noqa: ASYNC110 - polling a flag for a measurement
        await asyncio.sleep(0.01)
    emit(ready=True, sync_s=round(time.monotonic() - t0, 3), peers=len(bus.fleet.views))
    loop = asyncio.get_running_loop()
    mark: tuple[float, float] | None = None
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line in ("", "quit"):
            break
        ru = resource.getrusage(resource.RUSAGE_SELF)
        cpu = ru.ru_utime + ru.ru_stime
        if line == "begin":
            mark = (time.monotonic(), cpu)
        elif line == "end" and mark is not None:
            wall = time.monotonic() - mark[0]
            emit(
                window=True, wall_s=wall, cpu_s=cpu - mark[1], rss_kb=_proc_status("VmRSS"),
                hwm_kb=_proc_status("VmHWM"), views=len(bus.fleet.views),
            )  # fmt: skip
    await bus.stop()


# -- the simulator process --------------------------------------------------------------------------


def sim(port: int, peers: int, interval: float, connections: int, real: int) -> None:
    import paho.mqtt.client as mqtt

    from watchd.bus import payloads
    from watchd.bus.topics import Topics

    def client(cid: str, will: tuple[str, bytes] | None = None) -> mqtt.Client:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
        c.max_inflight_messages_set(1000)
        if will is not None:
            c.will_set(will[0], will[1], qos=1, retain=True)
        c.connect("127.0.0.1", port, keepalive=60)
        c.loop_start()
        return c

    now = time.time()
    pool = [client(f"sim-{i}") for i in range(connections)]
    names = [f"peer-{i:05d}" for i in range(peers)]
    topics = {n: Topics("watchd/", n) for n in names}
    for i, n in enumerate(names):
        pool[i % connections].publish(
            topics[n].status, payloads.status_online(n, "sim", now, now, interval), qos=1, retain=True
        )
    reals: dict[str, mqtt.Client] = {}
    for i in range(real):
        n = f"real-{i}"
        t = topics[n] = Topics("watchd/", n)
        c = client(n, (t.status, payloads.status_offline(n, "sim", now, payloads.REASON_LOST)))
        c.publish(
            t.status, payloads.status_online(n, "sim", now, now, interval), qos=1, retain=True
        ).wait_for_publish()
        reals[n] = c
    for c in pool:  # the statuses are at the broker before the watcher subscribes
        c.publish("watchd/sim/barrier", b"", qos=1).wait_for_publish()
    emit(ready=True)

    commands: list[str] = []
    threading.Thread(target=lambda: commands.extend(line.strip() for line in sys.stdin), daemon=True).start()
    everyone = names + list(reals)
    dead: set[str] = set()
    offsets = {n: interval * i / len(everyone) for i, n in enumerate(everyone)}
    start = time.monotonic()
    due = sorted((start + offsets[n], n) for n in everyone)
    seq = 0
    while "quit" not in commands:
        if "die" in commands:
            commands.remove("die")
            threading.Thread(target=_deaths, args=(pool[0], topics, reals, dead), daemon=True).start()
        t = time.monotonic()
        i = 0
        while i < len(due) and due[i][0] <= t:
            i += 1
        fired, due = due[:i], due[i:]
        for when, n in fired:
            if n not in dead:
                seq += 1
                conn = reals.get(n) or pool[hash(n) % connections]
                conn.publish(topics[n].heartbeat, payloads.heartbeat(n, seq, time.time(), interval), qos=0)
            due.append((when + interval, n))
        if fired:
            due.sort()
        time.sleep(0.005)


def _deaths(conn: Any, topics: dict[str, Any], reals: dict[str, Any], dead: set[str]) -> None:
    from watchd.bus import payloads

    fakes = [f"peer-{i:05d}" for i in range(0, 10 * len(reals), 10)]
    order = [x for pair in zip(fakes, reals, strict=False) for x in pair]
    for n in order:
        dead.add(n)
        time.sleep(0.5)
        if n in reals:
            c = reals[n]
            c.loop_stop()  # no DISCONNECT ever: the connection just dies
            t = time.time()
            c.socket().shutdown(socket.SHUT_RDWR)
            emit(died=n, kind="will", t=t)
        else:
            t = time.time()
            body = payloads.status_offline(n, "sim", 0.0, payloads.REASON_LOST)
            conn.publish(topics[n].status, body, qos=1, retain=True)
            emit(died=n, kind="offline", t=t)


# -- the parent -------------------------------------------------------------------------------------


class Child:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        )  # fmt: skip
        self.lines: list[dict[str, Any]] = []
        self._cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                doc = json.loads(raw)
            except ValueError:
                continue
            with self._cv:
                self.lines.append(doc)
                self._cv.notify_all()

    def wait(self, key: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for doc in self.lines:
                    if key in doc:
                        return doc
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise RuntimeError(f"child gave no {key!r} line: {self.lines[-5:]}")
                self._cv.wait(left)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(n: int, args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "tests"))
    from servers.mosquitto import start_mosquitto

    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp, start_mosquitto(Path(tmp)) as broker:
        assert broker.proc is not None
        port = str(broker.port)
        sim_p = Child("--sim", "--port", port, "--peers", str(n), "--interval", str(args.interval),
                      "--connections", str(args.connections), "--real", str(args.deaths // 2))  # fmt: skip
        w = None
        try:
            sim_p.wait("ready")
            w = Child("--watcher", "--port", port, "--interval", str(args.interval),
                      "--timeout", str(3 * args.interval))  # fmt: skip
            ready = w.wait("ready")
            time.sleep(args.warmup)
            broker_cpu = _cpu_of(broker.proc.pid)
            w.send("begin")
            time.sleep(args.seconds)
            w.send("end")
            window = w.wait("window")
            broker_cpu = _cpu_of(broker.proc.pid) - broker_cpu
            false_alarms = [d for d in w.lines if d.get("state") == "CRITICAL"]
            sim_p.send("die")
            died = []
            for _ in range(40):
                died = [d for d in sim_p.lines if "died" in d]
                if len(died) >= args.deaths:
                    break
                time.sleep(0.25)
            time.sleep(2.0)
            crit = {d["submit"]: d["t"] for d in w.lines if d.get("state") == "CRITICAL"}
            lat = {d["kind"]: [] for d in died}
            for d in died:
                t = crit.get(f"fleet.{d['died']}")
                lat[d["kind"]].append(t - d["t"] if t is not None else float("inf"))
        finally:
            if w is not None:
                w.stop()
            sim_p.stop()
    every = [x for v in lat.values() for x in v]
    return {
        "peers": n,
        "window_s": round(window["wall_s"], 1),
        "sync_s": ready["sync_s"],
        "cpu_pct": round(100 * window["cpu_s"] / window["wall_s"], 1),
        "rss_mb": round(window["rss_kb"] / 1024, 1),
        "peak_rss_mb": round(window["hwm_kb"] / 1024, 1),
        "broker_cpu_pct": round(100 * broker_cpu / window["wall_s"], 1),
        "heartbeats_per_s": round(n / args.interval),
        "false_alarms": len(false_alarms),
        "detect_p50_ms": round(1000 * statistics.median(every), 1) if every else None,
        "detect_max_ms": round(1000 * max(every), 1) if every else None,
        "detect_ms": {k: [round(1000 * x, 1) for x in v] for k, v in lat.items()},
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--peers", default="1000,10000", help="comma-separated peer counts")
    p.add_argument("--seconds", type=float, default=60.0, help="measuring window")
    p.add_argument("--warmup", type=float, default=12.0, help="after the watcher is synced")
    p.add_argument("--interval", type=float, default=10.0, help="heartbeat interval")
    p.add_argument("--connections", type=int, default=4, help="simulator MQTT connections")
    p.add_argument("--deaths", type=int, default=10, help="peers killed after the window (half real wills)")
    p.add_argument("--quick", action="store_true", help="10 s windows")
    p.add_argument("--watcher", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--sim", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--timeout", type=float, help=argparse.SUPPRESS)
    p.add_argument("--real", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.watcher:
        asyncio.run(watcher(args.port, args.interval, args.timeout))
        return 0
    if args.sim:
        sim(args.port, int(args.peers), args.interval, args.connections, args.real)
        return 0
    if args.quick:
        args.seconds, args.warmup = 10.0, 5.0
    results = [run(int(n), args) for n in args.peers.split(",")]
    print(f"\nfleet watch: heartbeat every {args.interval:g}s, window {args.seconds:g}s,"
          f" {os.cpu_count()} cores; goal: < {GOAL_CPU:g}% of one core at 10,000 peers,"
          f" detection < {GOAL_DETECT_S:g}s")  # fmt: skip
    print(f"{'peers':>7} {'msg/s':>6} {'cpu %':>6} {'rss MB':>7} {'peak MB':>8} {'broker %':>9} "
          f"{'sync s':>7} {'false':>6} {'detect p50':>11} {'max':>8}")  # fmt: skip
    for r in results:
        print(f"{r['peers']:>7} {r['heartbeats_per_s']:>6} {r['cpu_pct']:>6} {r['rss_mb']:>7} "
              f"{r['peak_rss_mb']:>8} {r['broker_cpu_pct']:>9} {r['sync_s']:>7} {r['false_alarms']:>6} "
              f"{r['detect_p50_ms']:>9}ms {r['detect_max_ms']:>6}ms")  # fmt: skip
    for r in results:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
