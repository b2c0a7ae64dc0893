"""Plugin throughput: N checks of `check_dummy 0 OK` at target rates, the daemon run in-process.

    .venv/bin/python bench/plugin_throughput.py                 # 60 s at 100, 300, 1000 checks/s
    .venv/bin/python bench/plugin_throughput.py --quick         # 10 s windows, a smoke run
    .venv/bin/python bench/plugin_throughput.py --compare 300,1000   # asyncio spawn path at these rates
    .venv/bin/python bench/plugin_throughput.py --rates 200,1000 --compare '' --peer nagios4
        # Nagios 4 on the same services right after each watchd run (root, nagios4-core installed)

Each run is a fresh child process (`--child`), so peak RSS and CPU belong to that run alone. The
child writes a config of N checks with interval N/R (R = target checks/s), loads it with
watchd.config.load, runs Daemon in-process and prints one JSON line; the parent prints a table.

Measuring window. First runs are spread by `initial_offset` over min(interval, 60 s); every check's
first result is also a state change (PENDING -> OK) written to SQLite at once. So the child warms up
for min(interval, 60 s) + 1 s, by which time every check has run once and sits on its steady-state
interval grid, and only then measures for `--seconds`: checks/s = results completed in the window /
window length; lateness = the scheduler's start-lateness samples taken in the window (the scheduler's
deque is swapped for an unbounded array at the window's start, as its own keeps only 10,000);
daemon CPU = RUSAGE_SELF delta (every thread of the daemon, including asyncio's watcher threads);
plugin CPU = RUSAGE_CHILDREN delta (reaped plugins), reported apart and not counted as daemon CPU.

`--spawn asyncio` swaps the plugin source's process runner for one on asyncio's subprocess machinery
(what asyncio.create_subprocess_exec does: loop.subprocess_exec with the stream protocol and Python
3.11's default ThreadedChildWatcher), with the same semantics: own process group, /dev/null stdin,
pipes, output limit, timeout with SIGTERM then SIGKILL to the group, leftovers killed after the
plugin exits. It shows the posix_spawn+pidfd path of watchd.sources.process against it.

On a shared machine, `--wait-quiet S` waits for idle CPUs before each run; every run reports the CPU
other processes used in its window, and the table flags runs where that was significant.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any

PLUGIN = "check_dummy"
PLUGIN_DIR = "/usr/lib/nagios/plugins"
NAGIOS4 = {"rate": 200.0, "cpu_ms": 0.53, "rss_mb": 15.0, "saturated_rate": 890.0}
SPAWN_LIMIT = 1300.0  # check_dummy spawned in a tight C loop on this kind of machine
GOAL_P99_S = 1.0
GOAL_RSS_MB = 40.0
QUICK_SECONDS = 10.0


# -- the asyncio spawn path (for comparison) ----------------------------------------------------


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _read_limited(stream: asyncio.StreamReader, buf: bytearray, limit: int) -> int:
    """Read to EOF, keeping the first `limit` bytes in buf; returns how many were dropped."""
    dropped = 0
    while chunk := await stream.read(65536):
        room = limit - len(buf)
        if room > 0:
            buf += chunk[:room]
        dropped += max(len(chunk) - max(room, 0), 0)
    return dropped


class _ExitProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's own stream protocol, plus a future for the child's exit alone: Process.wait()
    (Python 3.11.7) also waits for the pipes to close, which leftovers of a plugin can hold open."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=2**16, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


async def run_process_asyncio(
    argv: Sequence[str],
    env: Mapping[str, str],
    timeout: float,
    output_limit: int = 65536,
    kill_grace: float = 2.0,
) -> Any:
    """watchd.sources.process.run_process, built on asyncio's subprocess transports instead
    (what asyncio.create_subprocess_exec does, with the child watcher Python 3.11 defaults to)."""
    from watchd.sources.process import DRAIN_AFTER_EXIT, STDERR_LIMIT, ProcessOutcome

    loop = asyncio.get_running_loop()
    started = time.monotonic()
    try:
        transport, protocol = await loop.subprocess_exec(
            lambda: _ExitProtocol(loop),
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            process_group=0,  # own process group, as posix_spawn(setpgroup=0); restore_signals is default
        )
    except OSError as exc:
        return ProcessOutcome(b"", b"", None, None, time.monotonic() - started, spawn_error=exc)
    proc = asyncio.subprocess.Process(transport, protocol, loop)
    assert proc.stdout is not None
    assert proc.stderr is not None
    out, err = bytearray(), bytearray()
    out_task = asyncio.ensure_future(_read_limited(proc.stdout, out, output_limit))
    err_task = asyncio.ensure_future(_read_limited(proc.stderr, err, STDERR_LIMIT))
    readers = {out_task, err_task}
    timed_out = leftovers_killed = False
    try:
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(protocol.exited)
        except TimeoutError:
            timed_out = True
            _killpg(proc.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(kill_grace):
                    await asyncio.shield(protocol.exited)
            except TimeoutError:
                _killpg(proc.pid, signal.SIGKILL)
                await protocol.exited
        _, pending = await asyncio.wait(readers, timeout=DRAIN_AFTER_EXIT)
        if pending:  # the plugin exited but what it forked still holds the pipes
            leftovers_killed = True
            _killpg(proc.pid, signal.SIGKILL)
            _, pending = await asyncio.wait(pending, timeout=DRAIN_AFTER_EXIT)
            for task in pending:
                task.cancel()
        if timed_out:
            _killpg(proc.pid, signal.SIGKILL)  # whatever in the group survived SIGTERM
    except asyncio.CancelledError:
        _killpg(proc.pid, signal.SIGKILL)
        for task in readers:
            task.cancel()
        raise
    done_ok = out_task.done() and not out_task.cancelled() and out_task.exception() is None
    dropped = out_task.result() if done_ok else 0
    status = transport.get_returncode()
    code, sig = (None, -status) if status is not None and status < 0 else (status, None)
    return ProcessOutcome(
        bytes(out),
        bytes(err),
        code,
        sig,
        time.monotonic() - started,
        timed_out,
        dropped,
        None,
        leftovers_killed,
    )


# -- the child: one run -------------------------------------------------------------------------


def write_config(directory: str, checks: int, rate: float, max_concurrent: int, api: bool = False) -> str:
    """A watchd.yaml with `checks` checks of check_dummy, each every checks/rate seconds; the HTTP API
    (which loads aiohttp and prometheus-client) only with `api`."""
    interval = checks / rate
    lines = [
        f"data_dir: {json.dumps(os.path.join(directory, 'data'))}",
        f"api: {{enabled: {'true, port: 0' if api else 'false'}}}",
        f"plugin_dirs: [{json.dumps(PLUGIN_DIR)}]",
        "log: {level: warning, format: json}",
        f"scheduler: {{max_concurrent: {max_concurrent}}}",
        "defaults: {timeout: 10s, max_attempts: 3}",
        "checks:",
    ]
    width = len(str(checks - 1))
    lines += [
        f'  dummy_{i:0{width}d}: {{command: [{PLUGIN}, "0", "OK"], interval: {interval!r}}}'
        for i in range(checks)
    ]
    path = os.path.join(directory, "watchd.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _proc_status(field: str) -> float:
    """A `VmRSS`-style line of /proc/self/status, in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _children(pid: int) -> list[str]:
    """Processes whose parent is `pid`, as "PID:STATE:COMM" (leftovers after the daemon stopped)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(f"{entry}:{fields[0]}:{comm}")
    return found


def _cpu(who: int) -> float:
    ru = resource.getrusage(who)
    return ru.ru_utime + ru.ru_stime


def _machine_cpu() -> tuple[float, float]:
    """Busy and steal CPU seconds of the whole machine so far (/proc/stat), to see other load."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = ticks[3] + ticks[4]  # idle + iowait
    steal = ticks[7] if len(ticks) > 7 else 0
    return (sum(ticks[:8]) - idle - steal) / hz, steal / hz


def load_average() -> float:
    """The 1-minute load average at the end of a window (/proc/loadavg)."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def _sample_per_second(daemon: Any, out: list[tuple[int, float]]) -> None:
    """Each second: results completed in it, and how late the loop woke this sampler (loop lag)."""
    loop = asyncio.get_running_loop()
    last, due = daemon.results, loop.time() + 1.0
    while True:
        await asyncio.sleep(max(due - loop.time(), 0))
        now = loop.time()
        out.append((daemon.results - last, now - due))
        last, due = daemon.results, due + 1.0


async def measure(config: Any, seconds: float, profile: str | None) -> dict[str, Any]:
    from watchd.daemon import Daemon
    from watchd.daemon.scheduler import MAX_INITIAL_SPREAD

    interval = min(c.interval for c in config.checks.values())
    warmup = min(interval, MAX_INITIAL_SPREAD) + 1.0
    daemon = Daemon(config)
    await daemon.start()
    await asyncio.sleep(warmup)

    stats = daemon.scheduler.stats
    stats.lateness = array.array("d")  # unbounded, and only this window's samples
    seconds_log: list[tuple[int, float]] = []
    sampler = asyncio.get_running_loop().create_task(_sample_per_second(daemon, seconds_log))
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU time: blocked waits (vfork) do not count
        profiler.enable()
    results0, started0, skipped0 = daemon.results, stats.started, stats.skipped_overlap
    busy0, steal0 = _machine_cpu()
    cpu0, plugins0, t0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN), time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - t0
    cpu = _cpu(resource.RUSAGE_SELF) - cpu0
    plugin_cpu = _cpu(resource.RUSAGE_CHILDREN) - plugins0
    busy1, steal1 = _machine_cpu()
    results, started = daemon.results - results0, stats.started - started0
    skipped = stats.skipped_overlap - skipped0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    lateness = sorted(stats.lateness)
    rss_now = _proc_status("VmRSS")
    fds_open = len(os.listdir("/proc/self/fd"))
    sampler.cancel()
    await asyncio.gather(sampler, return_exceptions=True)
    running_at_stop = daemon.scheduler.running

    await daemon.stop()
    assert daemon.parts is not None
    import watchd

    not_ok = sum(1 for s in daemon.parts.state.statuses.values() if s.state.name != "OK")
    await asyncio.sleep(0.2)  # anything the daemon left behind is still a child now
    per_second = [n for n, _ in seconds_log]
    return {
        "checks": len(config.checks),
        "interval_s": interval,
        "warmup_s": warmup,
        "window_s": elapsed,
        "results": results,
        "started": started,
        "checks_per_s": results / elapsed,
        "per_second_min": min(per_second, default=0),
        "per_second_max": max(per_second, default=0),
        "loop_lag_max_ms": 1000 * max((lag for _, lag in seconds_log), default=0.0),
        "lateness_samples": len(lateness),
        "lateness_p50_ms": 1000 * _percentile(lateness, 0.50),
        "lateness_p99_ms": 1000 * _percentile(lateness, 0.99),
        "lateness_max_ms": 1000 * (lateness[-1] if lateness else float("nan")),
        "skipped_overlap": skipped,
        "daemon_cpu_s": cpu,
        "daemon_cpu_pct": 100 * cpu / elapsed,
        "cpu_ms_per_check": 1000 * cpu / results if results else float("nan"),
        "cpu_s_per_1000": 1000 * cpu / results if results else float("nan"),
        "plugin_cpu_s": plugin_cpu,
        "plugin_cpu_ms_per_check": 1000 * plugin_cpu / results if results else float("nan"),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_mb": rss_now,
        "fds_open": fds_open,
        "machine_busy_pct": 100 * (busy1 - busy0) / elapsed / (os.cpu_count() or 1),
        "other_cpu_s": (busy1 - busy0) - cpu - plugin_cpu,  # other processes (and untracked plugins)
        "loadavg": load_average(),  # high load with little foreign CPU means tasks waiting on the disk
        "steal_s": steal1 - steal0,
        "running_at_stop": running_at_stop,
        "not_ok_at_end": not_ok,
        "leftover_children": _children(os.getpid()),
        "watchd": os.path.dirname(watchd.__file__),
    }


def child(args: argparse.Namespace) -> int:
    from watchd import config as config_mod
    from watchd.runtime.logs import configure as configure_logging
    from watchd.sources import plugin as plugin_mod

    directory = tempfile.mkdtemp(prefix="watchd-bench-")
    try:
        path = write_config(directory, args.checks, args.rate, args.max_concurrent, args.api)
        config = config_mod.load(path)
        configure_logging(config.log.level, config.log.format)
        if args.spawn == "asyncio":
            plugin_mod.run_process = run_process_asyncio  # type: ignore[assignment]
        out = asyncio.run(measure(config, args.seconds, args.profile))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    out.update(spawn=args.spawn, target_rate=args.rate, max_concurrent=args.max_concurrent)
    print(json.dumps(out), flush=True)
    return 0


# -- the parent: runs, table --------------------------------------------------------------------


def wait_quiet(limit: float, busy_pct: float = 15.0) -> None:
    """Wait (at most `limit` s) until the machine has been under `busy_pct` busy for 3 s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        b0, _ = _machine_cpu()
        time.sleep(3.0)
        b1, _ = _machine_cpu()
        pct = 100 * (b1 - b0) / 3.0 / (os.cpu_count() or 1)
        if pct < busy_pct:
            return
        print(f"# machine {pct:.0f}% busy with other work, waiting", file=sys.stderr, flush=True)
    print("# machine still busy; running anyway", file=sys.stderr, flush=True)


def runtime_python(venv: str | None) -> str:
    """The interpreter the children run: this one, or that of a venv holding watchd and its runtime
    dependencies only (made on first use), so that RSS and import costs are those of a user's
    install and not of the test extras (schemathesis pulls in rich, playwright greenlet...)."""
    if not venv:
        return sys.executable
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        print(f"# making the runtime venv {venv} (pip install {repo})", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", repo], check=True)
    return python


def run_child(rate: float, spawn: str, args: argparse.Namespace) -> dict[str, Any]:
    if args.wait_quiet:
        wait_quiet(args.wait_quiet)
    cmd = [
        runtime_python(args.runtime_venv),
        os.path.abspath(__file__),
        "--child",
        f"--rate={rate:g}",
        f"--checks={args.checks}",
        f"--seconds={args.seconds:g}",
        f"--spawn={spawn}",
        f"--max-concurrent={args.max_concurrent}",
        *(["--api"] if args.api else []),
    ]
    print(f"# {spawn} {rate:g}/s: {' '.join(cmd)}", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"child failed (exit {proc.returncode}): {proc.stdout[-2000:]}")
    return dict(json.loads(lines[-1]))


def _goals(r: dict[str, Any]) -> str:
    missed = []
    if r["checks_per_s"] < 0.98 * min(r["target_rate"], NAGIOS4["saturated_rate"]):
        missed.append("rate")
    if r["lateness_p99_ms"] >= 1000 * GOAL_P99_S:
        missed.append("p99")
    if r["cpu_ms_per_check"] > NAGIOS4["cpu_ms"]:
        missed.append("cpu")
    if r["peak_rss_mb"] >= GOAL_RSS_MB:
        missed.append("rss")
    return "ok" if not missed else "MISS " + ",".join(missed)


def print_table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"watchd plugin throughput: {args.checks} checks of `{PLUGIN} 0 OK`, {args.seconds:g} s window"
        f" after warm-up, max_concurrent {args.max_concurrent}; {os.cpu_count()} CPUs,"
        f" Python {platform.python_version()}; watchd from {results[0]['watchd'] if results else '?'}"
    )
    head = (
        f"{'spawn':<8} {'target/s':>8} {'achieved/s':>10} {'min..max/s':>11} {'late p50':>9} {'p99':>8}"
        f" {'max':>8} {'ms CPU/chk':>10} {'s/1000':>7} {'daemon%':>7} {'plugin ms':>9}"
        f" {'peak RSS':>8} {'RSS':>6} {'lag max':>8}  goals"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r['spawn']:<8} {r['target_rate']:>8g} {r['checks_per_s']:>10.1f}"
            f" {r['per_second_min']:>5}..{r['per_second_max']:<5}"
            f" {r['lateness_p50_ms']:>7.1f}ms {r['lateness_p99_ms']:>6.1f}ms {r['lateness_max_ms']:>6.1f}ms"
            f" {r['cpu_ms_per_check']:>10.3f} {r['cpu_s_per_1000']:>7.3f} {r['daemon_cpu_pct']:>6.1f}%"
            f" {r['plugin_cpu_ms_per_check']:>9.3f} {r['peak_rss_mb']:>6.1f}MB {r['rss_mb']:>4.1f}MB"
            f" {r['loop_lag_max_ms']:>6.1f}ms  {_goals(r)}"
        )
    n = NAGIOS4
    print(
        f"{'nagios4':<8} {n['rate']:>8g} {n['rate']:>10.1f} {'':>11} {'':>9} {'':>8} {'':>8}"
        f" {n['cpu_ms']:>10.3f} {n['cpu_ms']:>7.3f} {100 * n['rate'] * n['cpu_ms'] / 1000:>6.1f}%"
        f" {'':>9} {n['rss_mb']:>6.1f}MB  (reference; saturated at {n['saturated_rate']:g}/s)"
    )
    print(
        f"goals: achieved >= min(target, Nagios 4's {n['saturated_rate']:g}/s) within 2%,"
        f" p99 lateness < {GOAL_P99_S:g} s, daemon CPU <= {n['cpu_ms']} ms/check,"
        f" peak RSS < {GOAL_RSS_MB:g} MB; spawning in a tight C loop tops out near {SPAWN_LIMIT:g}/s."
    )
    odd = []
    for r in results:
        tag = f"{r['spawn']} {r['target_rate']:g}/s"
        if r["leftover_children"]:
            odd.append(f"{tag}: leftover children after stop: {r['leftover_children']}")
        if r["not_ok_at_end"]:
            odd.append(f"{tag}: {r['not_ok_at_end']} checks not OK at the end")
        if r["skipped_overlap"]:
            odd.append(f"{tag}: {r['skipped_overlap']} runs skipped (previous run still going)")
        if r["other_cpu_s"] > 0.05 * r["window_s"]:
            odd.append(
                f"{tag}: other processes used {r['other_cpu_s']:.1f} CPU s in the window"
                f" (machine {r['machine_busy_pct']:.0f}% busy, steal {r['steal_s']:.1f} s)"
            )
        if r["started"] - r["results"] > r["max_concurrent"]:
            odd.append(f"{tag}: started {r['started']} but completed {r['results']}")
    for line in odd:
        print("note:", line)


def run_peer(rate: float, args: argparse.Namespace) -> dict[str, Any]:
    """Nagios 4 on the same services, in this process's child (see bench/peer_nagios4.py)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import peer_nagios4

    if args.wait_quiet:
        wait_quiet(args.wait_quiet)
    print(f"# nagios4 {rate:g}/s: {peer_nagios4.NAGIOS}, {args.checks} services", file=sys.stderr, flush=True)
    return peer_nagios4.run(args.checks, rate, args.seconds)


def print_side_by_side(results: list[dict[str, Any]], peers: list[dict[str, Any]]) -> None:
    """watchd and Nagios 4 at each rate, run one right after the other, and watchd / Nagios ratios."""
    print()
    head = (
        f"{'target/s':>8}  {'daemon':<7} {'achieved/s':>10} {'late p99':>9} {'max':>8} {'ms CPU/chk':>10}"
        f" {'RSS':>7} {'foreign CPU':>11} {'load':>5}"
    )
    print("side by side (Nagios 4 latency: each service's last start; RSS: main process + workers)")
    print(head)
    print("-" * len(head))
    for peer in peers:
        ours = next(r for r in results if r["spawn"] == "posix" and r["target_rate"] == peer["target_rate"])
        rows = [
            ("watchd", ours["checks_per_s"], ours["lateness_p99_ms"], ours["lateness_max_ms"],
             ours["cpu_ms_per_check"], ours["peak_rss_mb"], ours["other_cpu_s"], ours["window_s"],
             ours["loadavg"]),
            ("nagios4", peer["checks_per_s"], peer["latency_p99_ms"], peer["latency_max_ms"],
             peer["cpu_ms_per_check"], peer["rss_mb"], peer["other_cpu_s"], peer["window_s"],
             peer["loadavg"]),
        ]  # fmt: skip
        for name, rate, p99, worst, cpu, rss, other, window, load in rows:
            foreign = 100 * max(other, 0.0) / window / (os.cpu_count() or 1)
            print(
                f"{peer['target_rate']:>8g}  {name:<7} {rate:>10.1f} {p99:>7.1f}ms {worst:>6.1f}ms"
                f" {cpu:>10.3f} {rss:>5.1f}MB {foreign:>10.1f}% {load:>5.2f}"
            )
        print(
            f"{'':>8}  {'ratio':<7} {ours['checks_per_s'] / peer['checks_per_s']:>10.2f} {'':>9} {'':>8}"
            f" {ours['cpu_ms_per_check'] / peer['cpu_ms_per_check']:>10.2f}"
            f" {ours['peak_rss_mb'] / peer['rss_mb']:>7.2f}   (watchd / Nagios 4)"
        )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rates", default="100,300,1000", help="target checks/s, comma-separated")
    p.add_argument(
        "--compare", default="300", help="rates at which to run the asyncio spawn path too ('' for none)"
    )
    p.add_argument("--checks", type=int, default=1000, help="checks configured (default 1000)")
    p.add_argument("--seconds", type=float, default=60.0, help="measuring window (default 60)")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_SECONDS:g} s windows (smoke run)")
    p.add_argument("--max-concurrent", type=int, default=64)
    p.add_argument("--api", action="store_true", help="run with the HTTP API enabled (loads aiohttp)")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="before each run, wait up to S seconds for the machine to be idle (shared machines)",
    )
    p.add_argument("--json", metavar="FILE", help="also write every run's figures to FILE")
    p.add_argument(
        "--runtime-venv",
        metavar="DIR",
        help="run watchd from a venv with its runtime dependencies only (made if missing; re-make it"
        " after changing the code), as a user's install is",
    )
    p.add_argument(
        "--peer",
        choices=("nagios4",),
        help="also run Nagios 4 (Debian's nagios4-core, if installed) on the same services right after"
        " each watchd run, and print both rows and the ratios",
    )
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--rate", type=float, help="(child) target checks/s")
    p.add_argument("--spawn", choices=("posix", "asyncio"), default="posix", help="(child) spawn path")
    p.add_argument("--profile", metavar="FILE", help="(child) cProfile the window into FILE")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds = QUICK_SECONDS
    if args.child:
        if args.rate is None:
            p.error("--child needs --rate")
        return child(args)

    runs = [("posix", float(r)) for r in args.rates.split(",") if r.strip()]
    runs += [("asyncio", float(r)) for r in args.compare.split(",") if r.strip()]
    results, peers = [], []
    for spawn, rate in runs:
        results.append(run_child(rate, spawn, args))
        if args.peer == "nagios4" and spawn == "posix":
            peers.append(run_peer(rate, args))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results + peers, f, indent=1)
    print_table(results, args)
    if peers:
        print_side_by_side(results, peers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
