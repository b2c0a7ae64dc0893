"""The fleet console under a simulated fleet: N watchd hosts x C checks through one local mosquitto.

    .venv/bin/python bench/console_fleet.py            # 10,000 hosts x 20 checks, 5 min warm-up, 60 s window
    .venv/bin/python bench/console_fleet.py --hosts 200 --seconds 10 --warmup 5   # smoke run (< 1 min)
    .venv/bin/python bench/console_fleet.py --profile /tmp/console.prof # + the console's top costs per phase

Processes, so that each is measured alone:
- mosquitto, our foreground child on a free 127.0.0.1 port (tests/servers/mosquitto.py, as the other
  benches; `persistence false`, `user root` when root);
- `--publishers` simulator processes (multiprocessing), each speaking for a slice of the hosts;
- the console, `python -m watchd console run -C console.yaml` (a generated config: a free port, its
  database in a temp dir, login by reverse-proxy header from 127.0.0.1 for the operator `bench`);
- this process: the HTTP client (probes, renders) and one MQTT connection for the probes.

What each simulated host publishes is what a real watchd publishes, with watchd's own encoders
(watchd.bus.payloads, watchd.bus.topics.Topics, watchd.bus.snapshots), so the formats cannot drift:
at start its retained online status (heartbeat_interval 10 s), one retained state per check and, as
its mirror does, its retained maintenance picture (empty) and open incidents; then a heartbeat every
10 s (QoS 0), a result per check every `--interval` (QoS 0, 2 perfdata items like a plugin's), all
spread evenly over time; and across the fleet `--changes-per-s` hard state changes (QoS 1, retained
state; a CRITICAL also opens an incident: its snapshot retained on `<host>/incident/<id>`, with the
on-call mail pending and again once it went out, as the mirror republishes it; a recovery publishes
the resolved snapshot and then clears the topic with an empty retained message). About
`--problem-share` (1 %) of the hosts have a problem at any time: a change recovers one when there are
enough, else makes one.

The broker runs with `max_queued_messages 0` (unlimited; `--max-queued`): with mosquitto's default of
1000, a console subscribing at QoS 1 is sent the first ~1,000 retained messages and the broker drops
the rest ("Outgoing messages are being dropped"), the console's end-of-retained marker among them, so
it never has the fleet's checks and never logs that the retained set is in. `--console-protocol
3.1.1` runs the console's connection on MQTT 3.1.1 (no per-message v5 properties) for comparison.

Connections are pooled: each publisher process owns ONE MQTT connection for all of its hosts, not one
per host, to keep the simulator's CPU (on a 2-core machine) away from what is measured. That changes
nothing the console sees or does: it has one subscription (`<prefix>#`) and gets the same messages on
the same topics with the same payloads and QoS, in the same per-host order; the broker delivers them
to it the same way whichever connection they came in on. What pooling leaves out is the broker's own
work for 10,000 connections (keepalives, last wills), which the console never sees.

Sequence and figures:
1. publishers publish the retained set (statuses, states, open incidents, maintenance) and say ready;
2. the console starts: "hosts in view" = time until GET /healthz counts all N hosts; "retained set"
   = time until the console logs that the retained state is complete;
3. "caught up": the console takes in live traffic while it works through the retained set, and what
   comes meanwhile queues up; it has caught up once a state change published then shows (a probe
   pair, waited for up to `--sync-timeout`). Then `--warmup` s (its console CPU printed on its own:
   the first graph sample of every check falls in it, each a new series), then a window of `--seconds`: the
   console's CPU (psutil cpu_times before/after, as % of one core), the messages/s it handled
   (healthz `messages` delta) beside what was published, and `--probes` latency probes spread over
   the window: this process publishes a new hard state for a check the simulator leaves alone
   (WARNING, then OK again on the same host) and polls GET /api/v1/hosts/<host> every 10 ms until it
   shows; latency = publish to first answer with it. The probes' own requests are in the console's
   CPU figure (a few hundred small GETs a minute). RSS (psutil rss, and the peak) at the window's end;
4. renders: GET /, GET /hosts?customer=<one of --customers> and GET /hosts (every host), 20 each,
   p50/p99 wall time at the client, with ~1 % of the hosts having a problem;
5. for the shared machine: the load average at the window's start and end, the publishers', the
   broker's and this process's CPU, and what other processes used.
Goals (printed beside the figures): console CPU < 25 % of one core, RSS < 300 MB, state-change p99 < 2 s
at 10,000 hosts.

`--profile FILE` runs the console through this script (`--console-child`), which calls the same
`watchd console run` in-process under cProfile and starts a new profile on each SIGUSR1: FILE.0
(start, retained set, catching up, warm-up), FILE.1 (the window), FILE.2 (the renders), FILE.3 (the
stop); the top costs of the window and of the renders are printed. cProfile slows the console down:
the CPU figure of a profiled run is not the console's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
PREFIX = "watchd/"
USER = "bench"
PROXY_HEADER = "X-Remote-User"
GOAL_CPU_PCT = 25.0
GOAL_RSS_MB = 300.0
GOAL_P99_S = 2.0
GOAL_AT_HOSTS = 10_000
MAX_UNACKED = 20_000  # QoS 1 in flight per connection: paho's message ids wrap at 65,535
WARMUP = 310.0  # the console's graphs.sample_every (5 min) and a little: past every first sample
TICK = 0.02  # the publishers' time grain: a 60 s interval over 200,000 checks is ~67 results per tick
PROBE_TIMEOUT = 30.0
RENDERS = 20
CHECK_NAMES = (
    "probe", "load", "disk_root", "disk_var", "mem", "swap", "procs", "zombies", "ntp", "ssh",
    "http", "https_cert", "mysql", "mysql_repl", "redis", "postfix_queue", "smart", "raid", "apt", "users",
)  # fmt: skip
PROBE_CHECK = 0  # the probes' check: the simulator never changes its state
SYNC_LOG = "retained state complete"
FREEZE_NOTE = " with gc.freeze() once caught up (what-if)"
GC_NOTE = 0.05  # --gc-pauses logs collections of the youngest generations only when longer than this
SYNC_GRACE = 60.0  # how long to wait for that line once every host is in view


def check_names(n: int) -> tuple[str, ...]:
    return tuple(CHECK_NAMES[i] if i < len(CHECK_NAMES) else f"check_{i:03d}" for i in range(n))


def host_name(i: int, customers: int) -> str:
    """`c03-host-00042`: the customer is in the name, so one glob per customer claims its hosts."""
    return f"c{i % customers:02d}-host-{i:05d}"


# -- the simulated hosts (pure: what is due when) -------------------------------------------------


Msg = tuple[str, bytes, int, bool]  # topic, payload, qos, retain


@dataclass(frozen=True)
class SliceSpec:
    """What one publisher process simulates (picklable: it crosses into a spawned process)."""

    index: int
    port: int
    hosts: tuple[str, ...]
    checks: tuple[str, ...]
    heartbeat: float
    interval: float
    changes_per_s: float  # this slice's share
    problem_share: float
    seed: int


@dataclass
class Problem:
    state: Any  # watchd.core.model.State
    since: float
    incident: Any = None  # watchd.core.model.Incident while one is open


class FleetSlice:
    """The hosts of one publisher: the messages they publish at start and those due by `elapsed`.

    Streams are spread evenly: the k-th heartbeat of the slice is due at k * heartbeat / hosts, the
    k-th result at k * interval / (hosts * checks) (host k % hosts, so a host's checks are spread over
    its interval as watchd's initial offsets spread them), the k-th state change at k / changes_per_s.
    """

    def __init__(self, spec: SliceSpec, rng: random.Random) -> None:
        from watchd.bus.topics import Topics

        self.spec = spec
        self.rng = rng
        self.topics = {h: Topics(PREFIX, h) for h in spec.hosts}
        self.problems: dict[tuple[str, str], Problem] = {}
        self.target = max(1, round(len(spec.hosts) * spec.problem_share))
        self.heartbeats = self.results = self.changes = 0
        self.sent = 0
        self._made = 0
        self._incident_ids = 1 + spec.index * 10_000_000  # unique per host is enough; these are per slice

    # what a watchd says about one check
    def _status(self, check: str, state: Any, since: float, now: float, summary: str) -> Any:
        from watchd.core.model import CheckStatus, State, StateType

        return CheckStatus(
            check=check, state=state, state_type=StateType.HARD, attempt=1 if state is State.OK else 3,
            hard_state=state, last_check=now, last_change=since, last_hard_change=since, summary=summary,
        )  # fmt: skip

    def _summary(self, check: str, state: Any) -> str:
        return f"{check} {state.name}" + ("" if state.name == "OK" else f": threshold crossed on {check}")

    def announce(self, now: float) -> list[Msg]:
        """The retained set: each host's online status, each check's state, its open incidents and
        its maintenance picture."""
        from watchd.bus import payloads
        from watchd.core.model import State

        out: list[Msg] = []
        for _ in range(self.target):
            out += self._make_problem(now - self.rng.uniform(60, 6 * 3600), announce=True)
        for h in self.spec.hosts:
            t = self.topics[h]
            started = now - self.rng.uniform(3600, 30 * 86400)
            out.append(
                (t.status, payloads.status_online(h, "bench", started, now, self.spec.heartbeat), 1, True)
            )
            for c in self.spec.checks:
                p = self.problems.get((h, c))
                state, since = (p.state, p.since) if p else (State.OK, started)
                status = self._status(c, state, since, now, self._summary(c, state))
                out.append((t.state(c), payloads.check_state(h, status, now), 1, True))
            out.append((t.maintenance, maintenance_snapshot(h, now), 1, True))
        return out

    def due(self, elapsed: float, now: float) -> list[Msg]:
        from watchd.bus import payloads

        spec, hosts, out = self.spec, self.spec.hosts, []
        n_hosts, n_checks = len(hosts), len(spec.checks)
        upto = int(elapsed * n_hosts / spec.heartbeat)
        for k in range(self.heartbeats, upto):
            h = hosts[k % n_hosts]
            out.append(
                (
                    self.topics[h].heartbeat,
                    payloads.heartbeat(h, k // n_hosts + 1, now, spec.heartbeat),
                    0,
                    False,
                )
            )
        self.heartbeats = max(upto, self.heartbeats)
        upto = int(elapsed * n_hosts * n_checks / spec.interval)
        for k in range(self.results, upto):
            h, c = hosts[k % n_hosts], spec.checks[(k // n_hosts) % n_checks]
            out.append(
                (self.topics[h].result(c), payloads.check_result(h, self._result(h, c, now)), 0, False)
            )
        self.results = max(upto, self.results)
        upto = int(elapsed * spec.changes_per_s)
        for _ in range(self.changes, upto):
            out += self._change(now)
        self.changes = max(upto, self.changes)
        self.sent += len(out)
        return out

    def _result(self, host: str, check: str, now: float) -> Any:
        from watchd.core.model import CheckResult, PerfDatum, State

        p = self.problems.get((host, check))
        state = p.state if p else State.OK
        load = self.rng.uniform(2.0, 3.0) if state is State.CRITICAL else self.rng.uniform(0.0, 0.9)
        took = self.rng.uniform(0.005, 0.05)
        return CheckResult(
            check=check, state=state, summary=f"{state.name} - load {load:.2f}, {1000 * took:.0f} ms",
            perfdata=(PerfDatum("load", round(load, 2), "", "1", "2", 0.0),
                      PerfDatum("time", round(took, 4), "s", min=0.0)),
            exit_code=state.value, duration_s=took, started_at=now - took,
        )  # fmt: skip

    def _change(self, now: float) -> list[Msg]:
        if len(self.problems) > self.target:  # between target and target + 1: never none
            return self._recover(self.rng.choice(sorted(self.problems)), now)
        return self._make_problem(now)

    def _make_problem(self, since: float, announce: bool = False) -> list[Msg]:
        """A hard WARNING or CRITICAL on a host without a problem (CRITICAL opens an incident)."""
        from watchd.bus import payloads
        from watchd.core.model import Incident, State

        busy = {h for h, _ in self.problems}
        free = [h for h in self.spec.hosts if h not in busy] or list(self.spec.hosts)
        host = self.rng.choice(free)
        check = self.rng.choice(self.spec.checks[PROBE_CHECK + 1 :])
        self._made += 1
        state = State.CRITICAL if self._made % 2 else State.WARNING  # a slice's first opens an incident
        p = self.problems[(host, check)] = Problem(state, since)
        t, out = self.topics[host], []
        summary = self._summary(check, state)
        if not announce:  # the announcement publishes every check's state itself
            out.append(
                (
                    t.state(check),
                    payloads.check_state(host, self._status(check, state, since, since, summary), since),
                    1,
                    True,
                )
            )
        if state is State.CRITICAL:
            self._incident_ids += 1
            p.incident = Incident(
                host=host, check=check, priority="P2", impact="medium", urgency="high", state=state,
                summary=summary, opened_at=since, updated_at=since, id=self._incident_ids,
                respond_by=since + 900, resolve_by=since + 4 * 3600,
            )  # fmt: skip
            topic = t.incident(p.incident.id)
            if not announce:  # opened now: the mirror retains it, then again once the mail went out
                out.append((topic, incident_snapshot("open", p.incident, told=False), 1, True))
            out.append((topic, incident_snapshot("open", p.incident), 1, True))
        return out

    def _recover(self, key: tuple[str, str], now: float) -> list[Msg]:
        import dataclasses

        from watchd.bus import payloads
        from watchd.core.model import IncidentStatus, State

        host, check = key
        p = self.problems.pop(key)
        t = self.topics[host]
        status = self._status(check, State.OK, now, now, self._summary(check, State.OK))
        out: list[Msg] = [(t.state(check), payloads.check_state(host, status, now), 1, True)]
        if p.incident is not None:
            done = dataclasses.replace(
                p.incident, status=IncidentStatus.RESOLVED, state=State.OK, resolved_at=now, updated_at=now
            )
            out.append((t.incident(done.id), incident_snapshot("resolve", done), 1, False))
            out.append((t.incident(done.id), b"", 1, True))  # the retained snapshot is cleared
        return out


def incident_snapshot(action: str, inc: Any, told: bool = True) -> bytes:
    """What a watchd's mirror retains on `incident/<id>`: the incident and its deliveries (one mail to
    the on-call contact, pending until `told`)."""
    from watchd.bus import snapshots

    status = snapshots.DONE if told else snapshots.PENDING
    mail = snapshots.Delivery("notify:ops:email", "open", status, inc.opened_at + 2.0 if told else None)
    return snapshots.incident_payload(snapshots.IncidentView(inc, action, (mail,)))


def maintenance_snapshot(host: str, now: float) -> bytes:
    """A watchd's first mirror sync retains its maintenance picture, empty or not."""
    from watchd.bus import mirror, snapshots

    doc = snapshots.maintenance_doc(host, snapshots.MaintenanceView(), now, mirror.HORIZON)
    return snapshots.maintenance_payload(doc, now)


# -- a publisher process ----------------------------------------------------------------------------


def publisher_main(spec: SliceSpec, ready: Any, stop: Any, sent: Any) -> None:
    """One MQTT connection for the whole slice, driven from this thread (no paho network thread:
    `publish` writes at once and `loop` reads the acks and doubles as the tick's sleep)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-fleet-{spec.index}", protocol=mqtt.MQTTv5
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", spec.port, keepalive=60)
    fleet = FleetSlice(spec, random.Random(spec.seed))
    retained = fleet.announce(time.time())
    pending: deque[Any] = deque()
    for topic, payload, qos, retain in retained:
        pending.append(_published(client.publish(topic, payload, qos=qos, retain=retain)))
        while len(pending) > MAX_UNACKED or (pending and pending[0].is_published()):
            if pending[0].is_published():
                pending.popleft()
            else:
                client.loop(0.05)
    while pending:  # every retained message is at the broker before the console subscribes
        if pending[0].is_published():
            pending.popleft()
        else:
            client.loop(0.05)
    ready.put((spec.index, len(retained)))
    start = next_tick = time.monotonic()
    while not stop.is_set():
        for topic, payload, qos, retain in fleet.due(time.monotonic() - start, time.time()):
            _published(client.publish(topic, payload, qos=qos, retain=retain))
        sent.value = fleet.sent
        next_tick += TICK
        while (left := next_tick - time.monotonic()) > 0:
            client.loop(left)
    client.disconnect()


def _published(info: Any) -> Any:
    if info.rc != 0:
        raise SystemExit(f"publisher: paho refused a message (rc {info.rc}): connection lost?")
    return info


@dataclass
class Publishers:
    procs: list[Any]
    counters: list[Any]
    stop: Any
    retained: int = 0

    def sent(self) -> int:
        return sum(int(c.value) for c in self.counters)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def close(self) -> None:
        self.stop.set()
        for p in self.procs:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join()


def start_publishers(args: argparse.Namespace, port: int, hosts: Sequence[str]) -> Publishers:
    ctx = mp.get_context("spawn")  # no fork of a process with threads; each child imports afresh
    stop, ready = ctx.Event(), ctx.Queue()
    checks = check_names(args.checks)
    n = args.publishers
    pubs = Publishers([], [], stop)
    for i in range(n):
        spec = SliceSpec(i, port, tuple(hosts[i::n]), checks, args.heartbeat, args.interval,
                         args.changes_per_s / n, args.problem_share, args.seed + i)  # fmt: skip
        counter = ctx.Value("q", 0, lock=False)
        p = ctx.Process(
            target=publisher_main, args=(spec, ready, stop, counter), name=f"publisher-{i}", daemon=True
        )
        p.start()
        pubs.procs.append(p)
        pubs.counters.append(counter)
    deadline = time.monotonic() + 120 + len(hosts) * args.checks / 2000
    for _ in range(n):
        while True:
            with contextlib.suppress(Exception):
                _, count = ready.get(timeout=1.0)
                pubs.retained += count
                break
            if time.monotonic() > deadline or any(not p.is_alive() for p in pubs.procs):
                pubs.close()
                raise SystemExit("a publisher died or did not publish its retained set in time")
    return pubs


# -- the console --------------------------------------------------------------------------------------


def write_config(directory: Path, broker_port: int, http_port: int, customers: int, protocol: str) -> Path:
    lines = [
        f"console: {{listen: 127.0.0.1:{http_port}, database: {json.dumps(str(directory / 'console.db'))}}}",
        f"mqtt: {{host: 127.0.0.1, port: {broker_port}, heartbeat_interval: 10s, protocol: {protocol!r}}}",
        f"auth: {{proxy_header: {PROXY_HEADER}, trusted_proxies: [127.0.0.1/32],"
        f" accounts: {{{USER}: {{role: viewer}}}}}}",
        "customers:",
    ]
    lines += [
        f'  cust-{k:02d}: {{name: "Customer {k:02d}", hosts: ["c{k:02d}-*"]}}' for k in range(customers)
    ]
    path = directory / "console.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Console:
    proc: subprocess.Popen[bytes]
    log: Path
    base: str
    profile: str | None
    phases: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def log_has(self, text: str) -> bool:
        try:
            return text in self.log.read_text(errors="replace")
        except OSError:
            return False

    def next_phase(self, name: str) -> None:
        """Profiled run: dump the running phase's profile and start `name`'s (see --console-child)."""
        if self.profile and self.proc.poll() is None:
            self.phases.append(name)
            self.proc.send_signal(signal.SIGUSR1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_console(args: argparse.Namespace, workdir: Path, broker_port: int, customers: int) -> Console:
    from servers.mosquitto import free_port  # tests/ is on sys.path by now (run)

    http_port = free_port()
    config = write_config(workdir, broker_port, http_port, customers, args.console_protocol)
    if args.profile or args.gc_pauses:
        cmd = [sys.executable, __file__, "--console-child", str(config)]
        cmd += ["--profile", args.profile] if args.profile else []
        cmd += ["--gc-pauses"] if args.gc_pauses else []
    else:
        cmd = [sys.executable, "-m", "watchd", "console", "run", "-C", str(config)]
    log = workdir / "console.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env)
    return Console(proc, log, f"http://127.0.0.1:{http_port}", args.profile, ["sync"])


def console_child(config: str, profile: str | None, gc_pauses: bool) -> int:
    """`watchd console run` in this process. With `profile`, under cProfile: SIGUSR1 ends a phase's
    profile (written to `<profile>.<n>`) and starts the next one. With `gc_pauses`, every garbage
    collection of the oldest generation, or longer than GC_NOTE, is logged as a `bench_gc` JSON line."""
    import cProfile
    import ctypes
    import gc

    sys.path.insert(0, str(REPO / "src"))
    from watchd.cli.main import main

    state: dict[str, Any] = {"n": 0, "prof": None, "gc": 0.0}

    def start() -> None:
        if profile:
            state["prof"] = cProfile.Profile(time.process_time)  # CPU time: waiting in epoll is not a cost
            state["prof"].enable()

    def dump() -> None:
        if state["prof"] is not None:
            state["prof"].disable()
            state["prof"].dump_stats(f"{profile}.{state['n']}")
            state["n"] += 1

    def switch(_sig: int, _frame: Any) -> None:
        dump()
        start()

    def collected(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            state["gc"] = time.perf_counter()
            return
        took = time.perf_counter() - state["gc"]
        if info["generation"] == 2 or took > GC_NOTE:
            line = {
                "bench_gc": info["generation"],
                "ms": 1000 * took,
                "collected": info["collected"],
                "t": time.time(),
            }
            print(json.dumps(line), file=sys.stderr, flush=True)

    def heap(_sig: int, _frame: Any) -> None:
        """What the collector has to walk: the GC-tracked objects by type (the top ones)."""
        counts: dict[str, int] = {}
        objects = gc.get_objects()
        for o in objects:
            name = type(o).__qualname__
            counts[name] = counts.get(name, 0) + 1
        top = dict(sorted(counts.items(), key=lambda kv: -kv[1])[:15])
        del objects
        rss = _rss_mb()
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # what of the RSS is free memory malloc kept
        doc = {"bench_heap": sum(counts.values()), "types": top, "rss_mb": rss, "trimmed_mb": _rss_mb(),
               "t": time.time()}  # fmt: skip
        print(json.dumps(doc), file=sys.stderr, flush=True)

    def freeze(_sig: int, _frame: Any) -> None:
        gc.collect()
        gc.freeze()  # what exists now (the fleet's view) is never walked again by a collection
        print(
            json.dumps({"bench_frozen": gc.get_freeze_count(), "t": time.time()}), file=sys.stderr, flush=True
        )

    if gc_pauses:
        gc.callbacks.append(collected)
        signal.signal(signal.SIGUSR2, heap)
        signal.signal(signal.SIGHUP, freeze)
    signal.signal(signal.SIGUSR1, switch)
    start()
    try:
        return main(["console", "run", "-C", config])
    finally:
        dump()


async def heap_of(console: Console) -> dict[str, Any] | None:
    """Ask the console child for its GC-tracked objects by type (SIGUSR2) and read its answer."""
    seen = console.log.read_text(errors="replace").count('"bench_heap"')
    console.proc.send_signal(signal.SIGUSR2)
    for _ in range(600):
        await asyncio.sleep(0.1)
        lines = [x for x in console.log.read_text(errors="replace").splitlines() if '"bench_heap"' in x]
        if len(lines) > seen:
            with contextlib.suppress(ValueError):
                return dict(json.loads(lines[-1]))
    return None


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def gc_pauses(log: Path, start: float, end: float) -> list[tuple[int, float]]:
    """(generation, ms) of the collections the console child logged between `start` and `end`."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if '"bench_gc"' in line:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                doc = json.loads(line)
                if start <= doc["t"] <= end:
                    out.append((int(doc["bench_gc"]), float(doc["ms"])))
    return out


# -- measuring --------------------------------------------------------------------------------------


class NoAccess(RuntimeError):
    """The console refuses the bench's requests (401/403): its login for the proxy header is missing."""


def percentile(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return math.nan
    return s[min(len(s) - 1, math.ceil(q * len(s)) - 1 if q > 0 else 0)]


def cpu_of(pid: int) -> float:
    import psutil

    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return math.nan
    return float(t.user + t.system)


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy so far (idle and iowait excluded)."""
    import psutil

    t = psutil.cpu_times()
    idle = t.idle + sum(getattr(t, k, 0.0) for k in ("iowait", "steal", "guest", "guest_nice"))
    return float(sum(t) - idle)


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return math.nan


class Http:
    def __init__(self, base: str) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(
            base, headers={PROXY_HEADER: USER}, timeout=aiohttp.ClientTimeout(total=120)
        )

    async def get(self, path: str) -> tuple[int, bytes]:
        async with self.session.get(path, allow_redirects=False) as r:
            return r.status, await r.read()

    async def json(self, path: str) -> tuple[int, Any]:
        status, body = await self.get(path)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, None

    async def close(self) -> None:
        await self.session.close()


async def until_hosts(
    http: Http, console: Console, n: int, timeout: float
) -> tuple[float, float | None, int]:
    """(seconds from the console's start until healthz counts n hosts, until the console logged that
    the retained set is in (None: it never did), messages handled by then)."""
    import aiohttp

    t0 = console.started
    seen = messages = 0
    t_hosts = t_synced = None
    while time.monotonic() - t0 < timeout:
        if t_hosts is not None and time.monotonic() - t0 > max(2 * t_hosts, t_hosts + SYNC_GRACE):
            break  # every host is in view (heartbeats add them too) but the retained set never was
        if console.proc.poll() is not None:
            raise SystemExit(
                f"the console exited ({console.proc.returncode}):\n{console.log.read_text()[-3000:]}"
            )
        with contextlib.suppress(aiohttp.ClientError, OSError):
            status, doc = await http.json("/healthz")
            if status == 200 and isinstance(doc, dict):
                seen, messages = int(doc.get("hosts", 0)), int(doc.get("messages", 0))
        if t_hosts is None and seen >= n:
            t_hosts = time.monotonic() - t0
        if t_synced is None and console.log_has(SYNC_LOG):
            t_synced = time.monotonic() - t0
        if t_hosts is not None and t_synced is not None:
            return t_hosts, t_synced, messages
        await asyncio.sleep(0.05)
    if t_hosts is None:
        raise SystemExit(f"the console saw {seen} of {n} hosts after {timeout:g} s")
    return t_hosts, t_synced, messages


class Prober:
    """Hard state changes of one check on random hosts, published as the host would, and how long
    until the console's JSON shows them."""

    def __init__(self, port: int, hosts: Sequence[str], check: str, seed: int) -> None:
        import paho.mqtt.client as mqtt

        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="bench-probe", protocol=mqtt.MQTTv5
        )
        self.client.connect("127.0.0.1", port, keepalive=60)
        self.client.loop_start()
        self.hosts, self.check, self.rng = hosts, check, random.Random(seed)
        self.latencies: list[float] = []
        self.timeouts = 0
        self._host: str | None = None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _next(self) -> tuple[str, Any]:
        """WARNING on a random host, then OK again on the same one: the fleet's problems stay put."""
        from watchd.core.model import State

        if self._host is None:
            self._host = self.rng.choice(self.hosts)
            return self._host, State.WARNING
        host, self._host = self._host, None
        return host, State.OK

    async def probe(self, http: Http, timeout: float = PROBE_TIMEOUT) -> float | None:
        """Seconds from publishing a new hard state until the console's JSON has it; None: timed out."""
        from watchd.bus import payloads
        from watchd.bus.topics import Topics
        from watchd.core.model import CheckStatus, State, StateType

        host, state = self._next()
        now = time.time()
        status = CheckStatus(check=self.check, state=state, state_type=StateType.HARD, hard_state=state,
                             attempt=1 if state is State.OK else 3, last_check=now, last_change=now,
                             last_hard_change=now, summary=f"probe {state.name}")  # fmt: skip
        body = payloads.check_state(host, status, now)
        path = f"/api/v1/hosts/{quote(host, safe='')}"
        t0 = time.monotonic()
        self.client.publish(Topics(PREFIX, host).state(self.check), body, qos=1, retain=True)
        while time.monotonic() - t0 < timeout:
            code, doc = await http.json(path)
            if code in (401, 403):
                raise NoAccess(f"GET {path} answered {code}")
            if code == 200 and isinstance(doc, dict):
                shown = doc.get("checks", {}).get(self.check, {})
                if shown.get("hard_state") == state.name:
                    return time.monotonic() - t0
            await asyncio.sleep(0.01)
        return None

    async def caught_up(self, http: Http, timeout: float) -> bool:
        """Whether a state change shows within `timeout`: the console has worked off what queued up
        while it took in the retained set (a pair, so the host is OK again; not counted as probes)."""
        return await self.probe(http, timeout) is not None and await self.probe(http, timeout) is not None

    async def run(self, http: Http, count: int, seconds: float) -> str | None:
        """`count` probes spread over `seconds`; None, or why probing stopped."""
        t0 = time.monotonic()
        for k in range(count):
            await asyncio.sleep(max(0.0, t0 + k * seconds / count - time.monotonic()))
            if time.monotonic() - t0 >= seconds:
                return f"only {k} of {count} probes fitted in the window"
            try:
                took = await self.probe(http)
            except NoAccess as exc:
                return f"no access: {exc} (auth middleware for {PROXY_HEADER} not merged yet?)"
            if took is None:
                self.timeouts += 1
            else:
                self.latencies.append(took)
        return None


_SUMMARY = re.compile(rb"<b[^>]*>(\d+)</b>\s*(hosts|checks|problems|open incidents)")


async def renders(
    http: Http, pages: Sequence[str]
) -> tuple[dict[str, list[float]], dict[str, int], dict[str, int]]:
    """Wall time of RENDERS GETs of each page, each page's size, and the dashboard's own counts."""
    times: dict[str, list[float]] = {p: [] for p in pages}
    sizes: dict[str, int] = {}
    counts: dict[str, int] = {}
    for page in pages:
        for _ in range(RENDERS):
            t0 = time.monotonic()
            code, body = await http.get(page)
            took = time.monotonic() - t0
            if code in (401, 403):
                raise NoAccess(f"GET {page} answered {code}")
            if code != 200:
                raise SystemExit(f"GET {page} answered {code}: {body[:500]!r}")
            times[page].append(took)
            sizes[page] = len(body)
            if page == "/":
                counts = {m.group(2).decode(): int(m.group(1)) for m in _SUMMARY.finditer(body)}
    return times, sizes, counts


@dataclass
class Window:
    wall: float
    console_cpu: float
    publishers_cpu: list[float]
    broker_cpu: float
    bench_cpu: float
    machine_busy: float
    messages: int
    published: int


@contextlib.contextmanager
def measured(
    console: Console, pubs: Publishers, broker_pid: int, out: list[Window], messages0: int
) -> Iterator[None]:
    """Every process's CPU and the machine's over the `with` block (the console's own is the figure)."""
    t0, busy0, sent0 = time.monotonic(), machine_busy(), pubs.sent()
    c0, b0, me0 = cpu_of(console.proc.pid), cpu_of(broker_pid), cpu_of(os.getpid())
    p0 = [cpu_of(p) for p in pubs.pids()]
    yield
    wall = time.monotonic() - t0
    out.append(Window(
        wall, cpu_of(console.proc.pid) - c0, [cpu_of(p) - x for p, x in zip(pubs.pids(), p0, strict=True)],
        cpu_of(broker_pid) - b0, cpu_of(os.getpid()) - me0, machine_busy() - busy0, messages0,
        pubs.sent() - sent0,
    ))  # fmt: skip


async def measure(args: argparse.Namespace, console: Console, pubs: Publishers, broker_pid: int,
                  hosts: Sequence[str]) -> dict[str, Any]:  # fmt: skip
    import psutil

    r: dict[str, Any] = {"hosts": len(hosts), "checks": args.checks, "publishers": args.publishers,
                         "retained_published": pubs.retained}  # fmt: skip
    http = Http(console.base)
    prober = Prober(args.port, hosts, check_names(args.checks)[PROBE_CHECK], args.seed)
    try:
        t_hosts, t_synced, _ = await until_hosts(http, console, len(hosts), args.sync_timeout)
        r.update(hosts_in_view_s=t_hosts, retained_set_s=t_synced)
        try:
            if not await prober.caught_up(http, args.sync_timeout):
                raise SystemExit(f"the console did not catch up with the bus in {args.sync_timeout:g} s")
            r["caught_up_s"] = time.monotonic() - console.started
            if args.gc_freeze:
                console.proc.send_signal(signal.SIGHUP)
        except NoAccess as exc:
            r["caught_up_s"] = None
            r["probe_note"] = f"no access: {exc}"
        warm: list[Window] = []
        with measured(console, pubs, broker_pid, warm, 0):
            await asyncio.sleep(args.warmup)
        r["warmup_cpu_pct"] = 100 * warm[0].console_cpu / warm[0].wall
        console.next_phase("steady")
        _, doc = await http.json("/healthz")
        m0 = int(doc["messages"])
        windows: list[Window] = []
        load0, wall0 = os.getloadavg(), time.time()
        with measured(console, pubs, broker_pid, windows, m0):
            probes = asyncio.create_task(prober.run(http, args.probes, args.seconds))
            await asyncio.sleep(args.seconds)
            why = await probes
        w = windows[0]
        probed = len(prober.latencies) + prober.timeouts  # the probes' own state messages
        if args.gc_pauses:
            r["gc_pauses"] = gc_pauses(console.log, wall0, time.time())
            r["heap"] = await heap_of(console)
        _, doc = await http.json("/healthz")
        r["rss_mb"] = psutil.Process(console.proc.pid).memory_info().rss / 2**20
        r["peak_rss_mb"] = peak_rss_mb(console.proc.pid)
        r.update(
            window_s=w.wall, console_cpu_pct=100 * w.console_cpu / w.wall,
            messages_per_s=(int(doc["messages"]) - m0) / w.wall,
            published_per_s=(w.published + probed) / w.wall,
            publishers_cpu_pct=[100 * c / w.wall for c in w.publishers_cpu],
            broker_cpu_pct=100 * w.broker_cpu / w.wall, bench_cpu_pct=100 * w.bench_cpu / w.wall,
            other_cpu_pct=100 * (w.machine_busy - w.console_cpu - sum(w.publishers_cpu) - w.broker_cpu
                                 - w.bench_cpu) / w.wall,
            machine_busy_pct=100 * w.machine_busy / w.wall / (os.cpu_count() or 1),
            loadavg_start=load0[0], loadavg_end=os.getloadavg()[0],
            probes=len(prober.latencies), probe_timeouts=prober.timeouts, probe_note=why,
        )  # fmt: skip
        if prober.latencies or prober.timeouts:
            lat = prober.latencies + [PROBE_TIMEOUT] * prober.timeouts  # a timeout counts as its limit
            r.update(latency_p50_ms=1000 * percentile(lat, 0.5), latency_p99_ms=1000 * percentile(lat, 0.99),
                     latency_max_ms=1000 * max(lat))  # fmt: skip
        console.next_phase("render")
        pages = ["/", "/hosts?customer=cust-00", "/hosts"]
        try:
            times, sizes, counts = await renders(http, pages)
        except NoAccess as exc:
            r["render_note"] = f"no access: {exc}"
        else:
            r["renders"] = {p: {"p50_ms": 1000 * percentile(t, 0.5), "p99_ms": 1000 * percentile(t, 0.99),
                                "kb": sizes[p] / 1024} for p, t in times.items()}  # fmt: skip
            r["dashboard_counts"] = counts
        console.next_phase("end")
    finally:
        prober.close()
        await http.close()
    return r


def run(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "tests"))
    from servers.mosquitto import start_mosquitto

    hosts = [host_name(i, args.customers) for i in range(args.hosts)]
    with (
        tempfile.TemporaryDirectory(prefix="console-bench-") as tmp,
        start_mosquitto(Path(tmp) / "mqtt", extra=f"max_queued_messages {args.max_queued}") as broker,
    ):
        assert broker.proc is not None
        args.port = broker.port
        t0 = time.monotonic()
        pubs = start_publishers(args, broker.port, hosts)
        retained_s = time.monotonic() - t0
        console = start_console(args, Path(tmp), broker.port, args.customers)
        try:
            r = asyncio.run(measure(args, console, pubs, broker.proc.pid, hosts))
        finally:
            console.stop()
            pubs.close()
        r.update(history(Path(tmp) / "console.db"), retained_publish_s=retained_s)
        r["console_exit"] = console.proc.returncode
        if console.proc.returncode not in (0, None):
            r["console_log_tail"] = console.log.read_text(errors="replace")[-2000:]
        if args.profile:
            r["profiles"] = {name: f"{args.profile}.{i}" for i, name in enumerate(console.phases)}
    return r


def history(db: Path) -> dict[str, int]:
    """What the stopped console wrote: the checks whose first state it recorded, rows, samples."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as c:
        (checks,) = c.execute(
            "SELECT count(*) FROM (SELECT DISTINCT host, check_name FROM state_changes)"
        ).fetchone()
        (rows,) = c.execute("SELECT count(*) FROM state_changes").fetchone()
        (samples,) = c.execute("SELECT count(*) FROM samples").fetchone()
    return {"history_checks": checks, "history_rows": rows, "samples": samples}


# -- the report -------------------------------------------------------------------------------------


def _goal(ok: bool, text: str, applies: bool) -> str:
    if not applies:
        return f"({text} at {GOAL_AT_HOSTS:,} hosts)"
    return f"{text}  {'ok' if ok else 'MISS'}"


def print_report(r: dict[str, Any], args: argparse.Namespace) -> None:
    at_goal = r["hosts"] >= GOAL_AT_HOSTS
    print(
        f"\nconsole fleet: {r['hosts']:,} hosts x {r['checks']} checks; heartbeat {args.heartbeat:g} s,"
        f" results every {args.interval:g} s, {args.changes_per_s:g} changes/s,"
        f" {args.publishers} publisher connections, broker max_queued_messages {args.max_queued},"
        f" console on MQTT {args.console_protocol}{FREEZE_NOTE if args.gc_freeze else ''};"
        f" window {r['window_s']:.1f} s after {args.warmup:g} s warm-up; {os.cpu_count()} CPUs,"
        f" Python {platform.python_version()}"
    )
    rows: list[tuple[str, str, str]] = []

    def row(name: str, value: str, goal: str = "") -> None:
        rows.append((name, value, goal))

    synced = r.get("retained_set_s")
    row("retained set published", f"{r['retained_published']:,} msgs in {r['retained_publish_s']:.1f} s")
    row("hosts in view", f"{r['hosts']:,} after {r['hosts_in_view_s']:.1f} s")
    row("retained set in", f"after {synced:.1f} s" if synced is not None else "never logged")
    caught = r.get("caught_up_s")
    row("caught up with the bus", f"after {caught:.1f} s (a state change published then shows)"
        if caught is not None else "unknown")  # fmt: skip
    row("messages/s handled", f"{r['messages_per_s']:,.0f} (published {r['published_per_s']:,.0f}/s)")
    cpu, rss = r["console_cpu_pct"], r["rss_mb"]
    row(
        "console CPU", f"{cpu:.1f} % of one core", _goal(cpu < GOAL_CPU_PCT, f"< {GOAL_CPU_PCT:g} %", at_goal)
    )
    warm = f"{r['warmup_cpu_pct']:.1f} % ({args.warmup:g} s: every check's first graph sample)"
    row("  during the warm-up", warm)
    row("console RSS", f"{rss:.0f} MB (peak {r['peak_rss_mb']:.0f} MB)",
        _goal(rss < GOAL_RSS_MB, f"< {GOAL_RSS_MB:g} MB", at_goal))  # fmt: skip
    if "latency_p99_ms" in r:
        p99 = r["latency_p99_ms"]
        row("state change -> console p50", f"{r['latency_p50_ms']:.0f} ms")
        row(
            "                        p99",
            f"{p99:.0f} ms",
            _goal(p99 < 1000 * GOAL_P99_S, f"< {GOAL_P99_S:g} s", at_goal),
        )
        row("                        max", f"{r['latency_max_ms']:.0f} ms")
    row("probes", f"{r['probes']} ({r['probe_timeouts']} timed out after {PROBE_TIMEOUT:g} s)")
    for page, t in r.get("renders", {}).items():
        row(
            f"GET {page}",
            f"p50 {t['p50_ms']:.0f} ms, p99 {t['p99_ms']:.0f} ms ({t['kb']:.0f} KB, {RENDERS} renders)",
        )
    if r.get("dashboard_counts"):
        c = r["dashboard_counts"]
        row("dashboard says", ", ".join(f"{v:,} {k}" for k, v in c.items())
            + f" (of {r['hosts'] * r['checks']:,} checks)")  # fmt: skip
    row("checks in history", f"{r['history_checks']:,} of {r['hosts'] * r['checks']:,}"
        f" ({r['history_rows']:,} state changes, {r['samples']:,} perfdata samples)")  # fmt: skip
    if "gc_pauses" in r:
        full = [ms for gen, ms in r["gc_pauses"] if gen == 2]
        row("GC pauses in the window", f"{len(full)} full collections, max {max(full, default=0):.0f} ms,"
            f" {sum(ms for _, ms in r['gc_pauses']):.0f} ms in all logged")  # fmt: skip
    if r.get("heap"):
        h = r["heap"]
        kinds = ", ".join(f"{n:,} {k}" for k, n in list(h["types"].items())[:6])
        row("GC-tracked objects", f"{h['bench_heap']:,} ({kinds}, ...)")
        row(
            "RSS after malloc_trim",
            f"{h['trimmed_mb']:.0f} MB (of {h['rss_mb']:.0f} MB: the rest was free memory)",
        )
    pubs = " + ".join(f"{x:.0f}" for x in r["publishers_cpu_pct"])
    row("publishers CPU", f"{pubs} % of one core")
    row("mosquitto CPU", f"{r['broker_cpu_pct']:.0f} %")
    row("bench process CPU", f"{r['bench_cpu_pct']:.0f} % (probes, HTTP client)")
    row("other processes CPU", f"{r['other_cpu_pct']:.0f} % (machine {r['machine_busy_pct']:.0f} % busy)")
    row(
        "load average (1 min)",
        f"{r['loadavg_start']:.2f} at the window's start, {r['loadavg_end']:.2f} at its end",
    )
    width = max(len(n) for n, _, _ in rows)
    vwidth = max(len(v) for _, v, _ in rows)
    for name, value, goal in rows:
        print(f"  {name:<{width}}  {value:<{vwidth}}  {goal}".rstrip())
    for key in ("probe_note", "render_note"):
        if r.get(key):
            print(f"note: {r[key]}")
    if r.get("dashboard_counts", {}).get("checks", r["hosts"] * r["checks"]) != r["hosts"] * r["checks"]:
        print("note: the dashboard does not count every check: the console missed some of the retained set")
    if r["history_checks"] != r["hosts"] * r["checks"]:
        print("note: the history lacks some checks' first state: the console missed some of the retained set")
    if r.get("console_exit") not in (0, None):
        print(f"note: the console exited with {r['console_exit']}:\n{r.get('console_log_tail', '')}")
    if r.get("profiles"):
        print_profiles(r["profiles"])


def print_profiles(profiles: dict[str, str], top: int = 25) -> None:
    import io
    import pstats
    import sysconfig

    trim = [
        sysconfig.get_paths()["purelib"] + "/",
        str(REPO / "src") + "/",
        sysconfig.get_paths()["stdlib"] + "/",
    ]
    for phase in ("steady", "render"):
        path = profiles.get(phase)
        if not path or not os.path.exists(path):
            continue
        out = io.StringIO()
        pstats.Stats(path, stream=out).sort_stats("tottime").print_stats(top)
        text = out.getvalue()
        for prefix in trim:
            text = text.replace(prefix, "")
        print(f"\n# console profile, {phase} phase ({path}), CPU time, top {top} by own time")
        print("\n".join(line for line in text.splitlines()[3:] if line.strip()))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hosts", type=int, default=10_000, help="simulated watchd hosts (default 10000)")
    p.add_argument("--checks", type=int, default=20, help="checks per host (default 20; at least 2)")
    p.add_argument(
        "--interval", type=float, default=60.0, help="seconds between a check's results (default 60)"
    )
    p.add_argument("--heartbeat", type=float, default=10.0, help="heartbeat interval (default 10)")
    p.add_argument(
        "--changes-per-s", type=float, default=2.0, help="hard state changes per second, fleet-wide"
    )
    p.add_argument("--problem-share", type=float, default=0.01, help="share of hosts with a problem (0.01)")
    p.add_argument(
        "--customers", type=int, default=10, help="customers the hosts are split among (default 10)"
    )
    p.add_argument("--publishers", type=int, default=2, help="publisher processes, one connection each")
    p.add_argument("--seconds", type=float, default=60.0, help="measuring window (default 60)")
    p.add_argument("--warmup", type=float, default=WARMUP,
                   help=f"after the console caught up, before the window (default {WARMUP:g} s: one graph"
                        " sampling period, in which every check's perfdata is sampled for the first time)")
    p.add_argument("--probes", type=int, default=120, help="state-change probes spread over the window")
    p.add_argument(
        "--sync-timeout", type=float, default=300.0, help="give up if the hosts are not in view by then"
    )
    p.add_argument(
        "--max-queued", type=int, default=0, metavar="N",
        help="the broker's max_queued_messages (default 0: unlimited; mosquitto's own default, 1000, drops"
        " most of the retained set a console subscribing at QoS 1 is sent)",
    )  # fmt: skip
    p.add_argument(
        "--console-protocol", choices=("5", "3.1.1"), default="3.1.1",
        help="MQTT version of the console's connection (its config's mqtt.protocol; default 3.1.1, the"
        " console's own default: paho's MQTT 5 decoding costs 2.5 times the CPU per message)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    p.add_argument(
        "--profile", metavar="FILE", help="cProfile the console per phase into FILE.<n>; print top costs"
    )
    p.add_argument(
        "--gc-pauses", action="store_true",
        help="run the console through this script with gc.callbacks and report its collection pauses",
    )  # fmt: skip
    p.add_argument(
        "--gc-freeze", action="store_true",
        help="(with --gc-pauses) what-if: gc.freeze() in the console once it caught up with the bus",
    )  # fmt: skip
    p.add_argument("--console-child", metavar="CONFIG", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.console_child:
        return console_child(args.console_child, args.profile, args.gc_pauses)
    if args.checks < 2 or args.hosts < args.publishers or args.customers < 1 or args.customers > 100:
        p.error("needs --checks >= 2 (one is the probes'), --hosts >= --publishers and 1-100 --customers")
    if args.gc_freeze and not args.gc_pauses:
        p.error("--gc-freeze needs --gc-pauses (the console runs through this script then)")
    r = run(args)
    print_report(r, args)
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1) + "\n")
    print(json.dumps(r))
    return 0 if r.get("console_exit") in (0, None) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    raise SystemExit(main())
