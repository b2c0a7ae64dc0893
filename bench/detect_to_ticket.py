"""Detect-to-ticket latency per ticket backend, detect-to-page per paging channel, outbox throughput.

    /work/venv/bin/python bench/detect_to_ticket.py                  # builtin + webhook, 100 incidents
    /work/venv/bin/python bench/detect_to_ticket.py --rt             # also Request Tracker 5 (starts one)
    /work/venv/bin/python bench/detect_to_ticket.py --profile        # + cProfile of the builtin/webhook runs
    .venv/bin/python bench/detect_to_ticket.py --systems all --redmine --rows 0   # every REST backend
    .venv/bin/python bench/detect_to_ticket.py --paging --backends none --rows 0  # detect -> page only

Latency. The daemon runs in-process (SystemClock, its own delivery loop, JSON logs at info to a
file, as `watchd run` under systemd). 100 plugin checks (`/bin/sh` scripts exiting 2, max_attempts 1,
so the first result is a hard CRITICAL and opens an incident) are run one after another (`group 1`)
and in groups of 10 run at once (`group 10`); each group waits until its tickets exist. Per incident:

    t0  Daemon.submit() entered with the CRITICAL result (the plugin has already run; its run time
        is reported apart as `plugin`)
    t1  Daemon.submit() returned: state machine, incident decision, SQLite commit, deliverer kicked
    t2  the ticket exists:
          builtin  BuiltinBackend.deliver() returned (its transaction committed the ticket row)
          webhook  the receiver (a separate process) got the `open` POST (time.monotonic() there;
                   CLOCK_MONOTONIC is one clock for every process on Linux)
          rt       RTBackend.deliver() returned for the `open`, i.e. RT answered 201 to POST /ticket;
                   at the end one REST2 search per key checks every ticket is visible
          redmine  the same for a real Redmine 5 (tests/servers/redmine.py; search, then POST /issues)
          zammad, jira, glpi, znuny, zendesk, freshdesk
                   the same against each system's stand-in (tests/tickets/standins/, a separate
                   process): what watchd's side costs per ticket (setup checks once, the search
                   before create, the create), not the SaaS's own latency

`detect->ticket` is t2 - t0, `pipeline` t1 - t0, `delivery` t2 - t1. Routes: builtin alone for the
builtin row; `[builtin, hook]` and `[builtin, helpdesk]` for webhook and rt (the usual setup).

Paging (`--paging`, `--channels email,sms,voice,pagerduty,opsgenie,apprise`). The daemon gets
an `oncall:` section: rotation `primary` whose one member, alice, has every chosen medium (email
to a real SMTP server, aiosmtpd; sms and voice through Twilio-style gateways in `notify.gateways`;
pagerduty and opsgenie with `url:` at their stand-ins; apprise `ntfy://127.0.0.1:PORT/topic`), and
`escalation: {P1: bench}`, a policy whose level 1 pages `rotation:primary` at `after: 0`. Checks
are `impact: high, urgency: high`, so the CRITICAL opens a P1 and the Pager queues level 1 in the
incident's own transaction; the usual builtin ticket comes with it (pages wait for its number).
The receivers are bench/paging_standins.py, one separate process. Per incident and channel:

    t0  Daemon.submit() entered with the CRITICAL result (as above)
    t2  the stand-in received the page (time.monotonic() there): SMTP end of DATA, Twilio
        POST Messages.json / Calls.json, PagerDuty trigger, Opsgenie Create Alert, ntfy publish

Per channel n, p50, p95, p99, max of t2 - t0; `lost` (incidents with no accepted page), `dup`
(accepted pages beyond one per incident, counted until `--grace` seconds after the last one) and
`refused` (non-2xx answers, retried by the outbox); then each stand-in's count of requests that
broke its documented API. An incident's rows go out with the deliverer's concurrency (4 rows at
once over every channel), so the channels of one incident wait for each other; apprise runs in
a worker thread and pays its import (about 0.4 s) with the first page of the process. The bench
polls the stand-ins every 5 ms from the daemon's loop, as it polls the webhook receiver.

Throughput. N outbox rows (realistic `open` intents) are committed for the webhook channel in one
transaction and the deliverer kicked; deliveries/s = N / time until the receiver has all N. Two
shapes: N incidents with one row each, and N/20 incidents with 20 rows each (each incident's rows
go strictly in order, so a pass sends at most one row per incident).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GOAL_P99_MS = 250.0
SECRET = "bench-secret"


# -- the webhook receiver (a child process: `--receiver`) -----------------------------------------


def receiver_main() -> None:
    """POST /hook records (key, kind, op_id, monotonic arrival); GET /arrivals?since=i lists them."""
    from aiohttp import web

    arrivals: list[tuple[str, str, int, float]] = []

    async def hook(request: web.Request) -> web.Response:
        raw = await request.read()
        at = time.monotonic()
        doc = json.loads(raw)
        arrivals.append((doc["key"], doc["kind"], doc["op_id"], at))
        return web.json_response({"ticket": doc["key"]})

    async def listing(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response(arrivals[since:])

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/hook", hook)
        app.router.add_get("/arrivals", listing)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def standin_main(name: str) -> None:
    """Run one ticket-system stand-in (tests/tickets/standins) and print its URL."""
    sys.path.insert(0, str(REPO / "tests"))  # servers.http
    sys.path.insert(0, str(REPO / "tests" / "tickets"))
    standin = standin_class(name)()

    async def main() -> None:
        await standin.start()
        print(standin.url, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def standin_class(name: str) -> Any:
    import importlib

    sys.path.insert(0, str(REPO / "tests" / "tickets"))
    module = importlib.import_module(f"standins.{name}")
    return getattr(module, STANDINS[name])


STANDINS = {"zammad": "Zammad", "jira": "Jira", "glpi": "Glpi", "znuny": "Znuny", "zendesk": "Zendesk",
            "freshdesk": "Freshdesk"}  # fmt: skip


@contextlib.contextmanager
def standin_process(name: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--standin", name],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield proc.stdout.readline().strip()  # type: ignore[union-attr]
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def webhook_receiver() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--receiver"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )
    try:
        port = int(proc.stdout.readline())  # type: ignore[union-attr]
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


class Arrivals:
    """The parent's view of the receiver: polls /arrivals (its own keep-alive session)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.seen: dict[tuple[str, str], float] = {}
        self.count = 0
        self._session: Any = None

    async def poll(self) -> None:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.get(f"{self.base}/arrivals", params={"since": str(self.count)}) as resp:
            items = await resp.json()
        for key, kind, _op, at in items:
            self.seen.setdefault((key, kind), at)
        self.count += len(items)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


# -- a daemon in-process ------------------------------------------------------------------------


def write_config(root: Path, host: str, checks: int, tickets: str, check_keys: str = "") -> Path:
    """`tickets`: YAML appended after the checks; `check_keys`: more keys of every check (", k: v")."""
    plugin = root / "check_fail"
    plugin.write_text('#!/bin/sh\necho "BENCH CRITICAL - it broke"\nexit 2\n')
    plugin.chmod(0o755)
    lines = "".join(
        f"  c{i:03d}: {{command: [{plugin}], enabled: false{check_keys}}}\n" for i in range(checks)
    )
    cfg = root / "watchd.yaml"
    cfg.write_text(
        f"host: {host}\ndata_dir: {root / 'data'}\nlog: {{level: info, format: json}}\n"
        "defaults: {interval: 1h, retry_interval: 1h, max_attempts: 1, flap_detection: false}\n"
        f"checks:\n{lines}{tickets}"
    )
    return cfg


def tickets_section(backend: str, hook_url: str | None, rt: Any, root: Path, spec: Any = None) -> str:
    if backend == "builtin":
        return ""
    if spec is not None:  # redmine and the stand-ins: a ready-made params mapping (JSON is YAML)
        return f"tickets:\n  backends:\n    helpdesk: {json.dumps({'type': backend, **spec})}\n" \
            "  default: [builtin, helpdesk]\n"  # fmt: skip
    if backend == "webhook":
        secret = root / "hook.secret"
        secret.write_text(SECRET)
        spec = f"hook: {{type: webhook, url: '{hook_url}/hook', secret_file: {secret}}}"
        name = "hook"
    else:
        spec = (
            f"helpdesk: {{type: rt, url: '{rt.url}', queue: General, username: {rt.username},"
            f" password_file: {rt.password_file}}}"
        )
        name = "helpdesk"
    return f"tickets:\n  backends:\n    {spec}\n  default: [builtin, {name}]\n"


@dataclass
class Sample:
    check: str
    plugin: float = 0.0
    t0: float = 0.0
    t1: float = 0.0
    t2: float = 0.0


@dataclass
class LatencyRun:
    backend: str
    group: int
    samples: list[Sample] = field(default_factory=list)
    wall: float = 0.0


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(-(-p * len(ordered) // 100)) - 1))
    return ordered[k]


async def latency_run(
    backend: str,
    n: int,
    group: int,
    hook_url: str | None,
    rt: Any,
    profile: cProfile.Profile | None,
    spec: Any = None,
) -> LatencyRun:
    from watchd import config
    from watchd.daemon import Daemon
    from watchd.runtime import logs

    with tempfile.TemporaryDirectory(prefix=f"d2t-{backend}-") as tmp:
        root = Path(tmp)
        host = f"bench-{backend}-g{group}"  # keys differ between runs (one receiver, one RT)
        cfg_path = write_config(root, host, n, tickets_section(backend, hook_url, rt, root, spec))
        log_file = (root / "watchd.log").open("w")
        logs.configure("info", "json", stream=log_file)
        d = Daemon(config.load(str(cfg_path)), str(cfg_path))
        await d.start()
        assert d.parts is not None
        samples = {f"c{i:03d}": Sample(f"c{i:03d}") for i in range(n)}
        done: dict[str, asyncio.Event] = {name: asyncio.Event() for name in samples}

        timed_submits(d, samples)

        def hook_backend(channel: str) -> None:
            backend_obj = d.parts.deliverer.channels[channel].backend  # type: ignore[union-attr]
            deliver = backend_obj.deliver

            async def timed(intent: Any, ref: str | None) -> str:
                out: str = await deliver(intent, ref)
                if intent.kind == "open" and intent.check in samples:
                    samples[intent.check].t2 = time.monotonic()
                    done[intent.check].set()
                return out

            backend_obj.deliver = timed

        arrivals: Arrivals | None = None
        if backend == "builtin":
            hook_backend("ticket:builtin")
        elif backend != "webhook":
            hook_backend("ticket:helpdesk")
        else:
            arrivals = Arrivals(hook_url or "")

        async def wait_tickets(names: list[str]) -> None:
            deadline = time.monotonic() + 60
            if arrivals is None:
                await asyncio.wait_for(asyncio.gather(*(done[x].wait() for x in names)), 60)
                return
            keys = {x: f"watchd-{host}-{x}-" for x in names}
            while time.monotonic() < deadline:
                await arrivals.poll()
                got = {k: at for (k, kind), at in arrivals.seen.items() if kind == "open"}
                for x in names:
                    match = [at for k, at in got.items() if k.startswith(keys[x])]
                    if match:
                        samples[x].t2 = match[0]
                if all(samples[x].t2 for x in names):
                    return
                await asyncio.sleep(0.005)
            raise TimeoutError("webhook tickets did not arrive")

        async def one(name: str) -> None:
            start = time.monotonic()
            await d.run_check(name)
            samples[name].plugin = samples[name].t0 - start

        names = list(samples)
        began = time.monotonic()
        if profile is not None:
            profile.enable()
        try:
            for i in range(0, n, group):
                batch = names[i : i + group]
                await asyncio.gather(*(one(x) for x in batch))
                await wait_tickets(batch)
        finally:
            if profile is not None:
                profile.disable()
        wall = time.monotonic() - began
        if rt is not None and backend == "rt":
            visible = [rt_visible(rt, f"watchd-{host}-{x}-") for x in names]
            assert all(visible), "an RT ticket is not visible through REST2"
        if arrivals is not None:
            await arrivals.close()
        await d.stop()
        log_file.close()
        return LatencyRun(backend, group, list(samples.values()), wall)


def rt_visible(rt: Any, key_prefix: str) -> bool:
    query = f"CF.{{WatchdKey}} LIKE '{key_prefix}'"
    url = f"{rt.rest}/tickets?" + urllib.parse.urlencode({"query": query})
    request = urllib.request.Request(url, headers={"Authorization": rt.basic_auth()})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return bool(json.loads(resp.read())["items"])


# -- detect -> page -------------------------------------------------------------------------------


ONCALL = """oncall:
  public_url: http://127.0.0.1:8080   # pages carry ack/resolve links, as in production
  rotations:  # a rotation in use for years: on_duty() cost grows with the hand-offs since `start`
    primary:
      layers: [{name: weekly, members: [alice], length: weekly, handoff: "09:00", start: 2024-01-01}]
  policies:
    bench:
      levels: [{after: 0, page: ["rotation:primary"]}]
  escalation: {P1: bench}
"""


@contextlib.contextmanager
def paging_standins() -> Iterator[dict[str, Any]]:
    """bench/paging_standins.py as a child process; its hello (URLs)."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "paging_standins.py")],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield json.loads(proc.stdout.readline())  # type: ignore[union-attr]
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass
class PagingRun:
    group: int
    channels: tuple[str, ...]
    samples: list[Sample]  # t0, t1 per check (t2 unused)
    pages: dict[tuple[str, str], list[tuple[int, float]]]  # (channel, check) -> [(status, at)]
    priorities: dict[str, int]
    unmatched: int  # arrivals of this run that named no check of it
    retries: int  # failed outbox attempts, all channels (the ticket's too)
    wall: float = 0.0

    def latencies(self, channel: str) -> list[float]:
        out = []
        for s in self.samples:
            ok = [at for status, at in self.pages.get((channel, s.check), []) if status < 300]
            if ok:
                out.append(min(ok) - s.t0)
        return out

    def accepted(self, channel: str) -> list[int]:
        """Accepted pages per check (1 each when nothing is lost or duplicated)."""
        return [
            sum(1 for status, _ in self.pages.get((channel, s.check), []) if status < 300)
            for s in self.samples
        ]

    def refused(self, channel: str) -> int:
        return sum(
            1 for s in self.samples for status, _ in self.pages.get((channel, s.check), []) if status >= 300
        )


def timed_submits(d: Any, samples: dict[str, Sample]) -> None:
    """Wrap Daemon.submit: t0 when it is entered, t1 when it returns, per check in `samples`."""
    submit = d.submit

    async def timed_submit(result: Any) -> Any:
        s = samples.get(result.check)
        if s is not None:
            s.t0 = time.monotonic()
        status = await submit(result)
        if s is not None:
            s.t1 = time.monotonic()
        return status

    d.submit = timed_submit


async def paging_run(
    n: int,
    group: int,
    hello: dict[str, Any],
    channels: tuple[str, ...],
    pages: Any,
    grace: float,
    profile: cProfile.Profile | None = None,
) -> PagingRun:
    import re

    from paging_standins import contact_config

    from watchd import config
    from watchd.daemon import Daemon
    from watchd.runtime import logs

    with tempfile.TemporaryDirectory(prefix="d2p-") as tmp:
        root = Path(tmp)
        host = f"bench-paging-g{group}"
        (root / "secrets").mkdir()
        extra = contact_config(hello, channels, root / "secrets") + ONCALL
        # impact high x urgency high, CRITICAL: P1, which the escalation pages
        cfg_path = write_config(root, host, n, extra, ", impact: high, urgency: high")
        log_file = (root / "watchd.log").open("w")
        logs.configure("info", "json", stream=log_file)
        d = Daemon(config.load(str(cfg_path)), str(cfg_path))
        await d.start()
        assert d.parts is not None
        assert d.store is not None
        db = d.store.db
        samples = {f"c{i:03d}": Sample(f"c{i:03d}") for i in range(n)}
        timed_submits(d, samples)
        await pages.poll()  # earlier runs' pages (and late duplicates of them) are not this run's
        title = re.compile(r"\b(c\d{3})\b")
        key_prefix = f"watchd-{host}-"
        ops: dict[str, str] = {}

        def check_of(channel: str, ident: str) -> str | None:
            kind, _, value = ident.partition(":")
            if kind == "key" and value.startswith(key_prefix):
                return value.removeprefix(key_prefix).rpartition("-")[0]  # watchd-<host>-<check>-<id>
            if kind == "op":
                if value not in ops:  # op ids restart with each daemon: look them up in this one's outbox
                    row = db.execute("SELECT payload FROM outbox WHERE id = ?", (value,)).fetchone()
                    if row is not None:
                        ops[value] = json.loads(row[0])["facts"]["check"]
                return ops.get(value)
            found = set(title.findall(value)) if kind == "title" else set()
            return found.pop() if len(found) == 1 else None

        got: dict[tuple[str, str], list[tuple[int, float]]] = {}
        unmatched = 0

        async def collect() -> None:
            nonlocal unmatched
            for channel, ident, status, at in await pages.poll():
                check = check_of(channel, ident)
                if check is not None and check in samples:
                    got.setdefault((channel, check), []).append((status, at))
                else:
                    unmatched += 1

        def missing(names: list[str]) -> set[str]:
            """The channels that have not yet accepted a page for one of `names`."""
            return {
                ch for ch in channels for x in names if not any(st < 300 for st, _ in got.get((ch, x), []))
            }

        async def one(name: str) -> None:
            start = time.monotonic()
            await d.run_check(name)
            samples[name].plugin = samples[name].t0 - start

        names = list(samples)
        began = time.monotonic()
        if profile is not None:
            profile.enable()
        try:
            for i in range(0, n, group):
                batch = names[i : i + group]
                await asyncio.gather(*(one(x) for x in batch))
                deadline = time.monotonic() + 60
                while lacking := missing(batch):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"no pages (group {group}, batch {i}): {sorted(lacking)}")
                    await asyncio.sleep(0.005)
                    await collect()
        finally:
            if profile is not None:
                profile.disable()
        wall = time.monotonic() - began
        await asyncio.sleep(grace)  # a duplicate sent late is still counted
        await collect()
        priorities: dict[str, int] = {}
        for (prio,) in db.execute("SELECT priority FROM incidents"):
            priorities[prio] = priorities.get(prio, 0) + 1
        # failed attempts the outbox retried (a refusal, a timeout, a page waiting for its ticket number)
        retries = int(db.execute("SELECT coalesce(sum(attempts), 0) FROM outbox").fetchone()[0])
        await d.stop()
        log_file.close()
        return PagingRun(group, channels, list(samples.values()), got, priorities, unmatched, retries, wall)


def print_paging(runs: list[PagingRun], violations: dict[str, list[str]]) -> None:
    print("\ndetect -> page, ms: t0 Daemon.submit() entered with the CRITICAL, t2 the stand-in got the page")
    print(f"{'channel':9} {'group':>5} {'n':>4} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} "
          f"{'lost':>4} {'dup':>4} {'refused':>7}")  # fmt: skip
    for r in runs:
        for ch in r.channels:
            lat = r.latencies(ch) or [float("nan")]
            per = r.accepted(ch)
            lost, dup = sum(1 for c in per if c == 0), sum(c - 1 for c in per if c > 1)
            print(
                f"{ch:9} {r.group:5d} {len(r.latencies(ch)):4d} {ms(pct(lat, 50))} {ms(pct(lat, 95))}"
                f" {ms(pct(lat, 99))} {ms(max(lat))} {lost:4d} {dup:4d} {r.refused(ch):7d}"
            )
        pipe = [s.t1 - s.t0 for s in r.samples]
        prios = ", ".join(f"{p} x{c}" for p, c in sorted(r.priorities.items()))
        print(
            f"{'(all)':9} {r.group:5d} {len(pipe):4d} pipeline p50 {ms(pct(pipe, 50)).strip()} p99"
            f" {ms(pct(pipe, 99)).strip()}; wall {r.wall:.2f}s; incidents {prios};"
            f" outbox retries {r.retries}; unmatched pages {r.unmatched}"
        )
    print("stand-in violations: " + ", ".join(f"{name} {len(v)}" for name, v in violations.items()))
    for name, items in violations.items():
        for text in items[:5]:
            print(f"  {name}: {text}")


# -- throughput -----------------------------------------------------------------------------------


async def throughput_run(rows: int, per_incident: int, hook_url: str) -> tuple[float, float, float]:
    """(deliveries/s at the receiver, seconds, daemon CPU seconds) for `rows` rows over incidents."""
    from watchd import config
    from watchd.daemon import Daemon
    from watchd.delivery import outbox
    from watchd.delivery.tickets import TicketIntent
    from watchd.runtime import logs

    with tempfile.TemporaryDirectory(prefix="d2t-tp-") as tmp:
        root = Path(tmp)
        cfg_path = write_config(root, "bench-tp", 0, tickets_section("webhook", hook_url, None, root))
        cfg_path.write_text(cfg_path.read_text().replace("checks:\n", "checks: {}\n"))
        log_file = (root / "watchd.log").open("w")
        logs.configure("info", "json", stream=log_file)
        d = Daemon(config.load(str(cfg_path)), str(cfg_path))
        await d.start()
        assert d.parts is not None
        assert d.store is not None
        arrivals = Arrivals(hook_url)
        await arrivals.poll()
        base = arrivals.count
        now = d.clock.time()
        kinds = ["open"] + ["update"] * (per_incident - 2) + ["resolve"] if per_incident > 1 else ["open"]
        with d.store.transaction() as db:
            for i in range(rows):
                incident, nth = divmod(i, per_incident)
                kind = kinds[nth]
                payload = TicketIntent(
                    kind=kind,  # type: ignore[arg-type]
                    key=f"watchd-bench-tp{incident}-{incident + 1}", incident_id=incident + 1, op_id=0,
                    host="bench", check=f"tp{incident}", priority="P2", state="CRITICAL",
                    subject=f"tp{incident} is CRITICAL", body="BENCH CRITICAL - it broke\n" * 3, at=now,
                    respond_by=now + 3600, resolve_by=now + 8 * 3600,
                    fields={"impact": "medium", "urgency": "medium", "reason": "bench"},
                ).to_json()  # fmt: skip
                del payload["op_id"]
                outbox.enqueue(db, incident + 1, "ticket:hook", kind, payload, now)
        cpu0 = _cpu()
        began = time.monotonic()
        d.parts.deliverer.kick()
        while arrivals.count - base < rows:
            await asyncio.sleep(0.05)
            await arrivals.poll()
            if time.monotonic() - began > 300:
                raise TimeoutError(f"only {arrivals.count - base} of {rows} rows arrived")
        last = max(at for (_k, _kind), at in arrivals.seen.items())
        elapsed = last - began
        cpu = _cpu() - cpu0
        await arrivals.close()
        await d.stop()
        log_file.close()
        return rows / elapsed, elapsed, cpu


def _loadavg() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- the table ----------------------------------------------------------------------------------


def ms(x: float) -> str:
    return f"{x * 1000:7.1f}"


def print_latency(runs: list[LatencyRun]) -> None:
    print("detect -> ticket, ms (n incidents; percentiles nearest-rank)")
    print(
        f"{'backend':9} {'group':>5} {'n':>4} {'p50':>7} {'p99':>7} {'max':>7} "
        f"{'pipe p50':>8} {'pipe p99':>8} {'dlv p50':>7} {'dlv p99':>7} {'plugin p50':>10} {'goal':>6}"
    )
    for r in runs:
        lat = [s.t2 - s.t0 for s in r.samples]
        pipe = [s.t1 - s.t0 for s in r.samples]
        dlv = [s.t2 - s.t1 for s in r.samples]
        plug = [s.plugin for s in r.samples]
        measured = r.backend in ("builtin", "webhook")
        goal = "" if not measured else ("ok" if pct(lat, 99) * 1000 < GOAL_P99_MS else "MISSED")
        print(
            f"{r.backend:9} {r.group:5d} {len(lat):4d} {ms(pct(lat, 50))} {ms(pct(lat, 99))} {ms(max(lat))} "
            f"{ms(pct(pipe, 50)):>8} {ms(pct(pipe, 99)):>8} {ms(pct(dlv, 50))} {ms(pct(dlv, 99))} "
            f"{ms(statistics.median(plug)):>10} {goal:>6}"
        )


def print_profile(profile: cProfile.Profile, limit: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(limit)
    print(f"\ncProfile of the latency runs (cumulative, top {limit}):")
    print(out.getvalue())
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(limit)
    print("cProfile (tottime):")
    print(out.getvalue())


async def main(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    sys.path.insert(0, str(REPO / "bench"))
    backends = args.backends + (["rt"] if args.rt else [])
    profile = cProfile.Profile() if args.profile else None
    runs: list[LatencyRun] = []
    with contextlib.ExitStack() as stack:
        hook_url = stack.enter_context(webhook_receiver())
        rt = None
        if args.rt:
            from servers.rt import ensure_installed, start_rt

            ensure_installed()
            rt = stack.enter_context(start_rt(Path(stack.enter_context(tempfile.TemporaryDirectory()))))
        for backend in backends:
            for group in args.groups:
                prof = profile if backend != "rt" else None
                runs.append(await latency_run(backend, args.n, group, hook_url, rt, prof))
        if args.redmine:
            from servers.redmine import ensure_installed as ensure_redmine
            from servers.redmine import start_redmine

            ensure_redmine()
            rm = stack.enter_context(start_redmine(Path(stack.enter_context(tempfile.TemporaryDirectory()))))
            spec = {"url": rm.url, "project": "hosting", "api_key_file": str(rm.api_key_file),
                    "key_field_id": rm.key_field_id, "last_op_field_id": rm.last_op_field_id}  # fmt: skip
            for group in args.groups:
                runs.append(await latency_run("redmine", args.n, group, None, None, None, spec))
        for name in args.systems:
            url = stack.enter_context(standin_process(name))
            standin = standin_class(name)()
            standin.url = url
            secrets_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            spec = standin.config(secrets_dir)
            for group in args.groups:
                runs.append(await latency_run(name, args.n, group, None, None, None, spec))
        paging_runs: list[PagingRun] = []
        violations: dict[str, list[str]] = {}
        if args.paging:
            from paging_standins import Pages

            hello = stack.enter_context(paging_standins())
            pages = Pages(hello["control"])
            try:
                for group in args.groups:
                    run = await paging_run(args.n, group, hello, args.channels, pages, args.grace, profile)
                    paging_runs.append(run)
                violations = await pages.violations()
            finally:
                await pages.close()
        tp = []
        for per_incident in (1, 20) if args.rows else ():
            tp.append((per_incident, *await throughput_run(args.rows, per_incident, hook_url)))
    goal = f"goal p99 < {GOAL_P99_MS:g} ms (builtin, webhook)"
    load = f"load average at the end {_loadavg()}"
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {load}; {goal}")
    if runs:
        print_latency(runs)
    if paging_runs:
        print_paging(paging_runs, violations)
    if tp:
        print(f"\noutbox throughput to the webhook receiver (one keep-alive session, {args.rows} rows)")
        print(
            f"{'rows/incident':>13} {'incidents':>9} {'seconds':>8} {'rows/s':>8} {'daemon CPU ms/row':>17}"
        )
    for per_incident, rate, elapsed, cpu in tp:
        print(
            f"{per_incident:13d} {args.rows // per_incident:9d} {elapsed:8.2f} {rate:8.0f}"
            f" {cpu * 1000 / args.rows:17.2f}"
        )
    if profile is not None:
        print_profile(profile, args.profile_top)


CHANNELS = ("email", "sms", "voice", "pagerduty", "opsgenie", "apprise")  # = paging_standins.CHANNELS


def _channels(value: str) -> tuple[str, ...]:
    chosen = tuple(x for x in value.split(",") if x)
    unknown = [x for x in chosen if x not in CHANNELS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"channels are some of {','.join(CHANNELS)}, not {value!r}")
    return chosen


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100, help="incidents per latency run (default 100)")
    p.add_argument("--groups", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10],
                   help="checks run at once, comma-separated (default 1,10)")  # fmt: skip
    p.add_argument("--rows", type=int, default=2000, help="outbox rows for the throughput run")
    p.add_argument("--rt", action="store_true", help="also measure Request Tracker 5 (starts one)")
    p.add_argument("--profile", action="store_true", help="cProfile the builtin, webhook and paging runs")
    p.add_argument("--profile-top", type=int, default=30)
    p.add_argument("--redmine", action="store_true", help="also measure a real Redmine 5 (starts one)")
    p.add_argument("--systems", type=lambda v: sorted(STANDINS) if v == "all" else v.split(","), default=[],
                   help="REST backends against their stand-ins, comma-separated, or all")  # fmt: skip
    p.add_argument("--backends", type=lambda v: [x for x in v.split(",") if x and x != "none"],
                   default=["builtin", "webhook"],
                   help="ticket latency runs: builtin,webhook (default), or none")  # fmt: skip
    p.add_argument("--paging", action="store_true", help="also measure detect-to-page per paging channel")
    p.add_argument("--channels", type=_channels, default=CHANNELS,
                   help=f"paging channels, comma-separated (default {','.join(CHANNELS)})")  # fmt: skip
    p.add_argument("--grace", type=float, default=2.0,
                   help="seconds to keep listening after the last page, for late duplicates")  # fmt: skip
    p.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--standin", help=argparse.SUPPRESS)
    return p.parse_args(argv)


if __name__ == "__main__":
    ns = parse(sys.argv[1:])
    if ns.receiver:
        receiver_main()
    elif ns.standin:
        standin_main(ns.standin)
    else:
        asyncio.run(main(ns))
