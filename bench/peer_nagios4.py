"""Nagios 4 as the peer of bench/plugin_throughput.py: the same N `check_dummy 0 OK` services at a
target rate, run by Debian's nagios4-core (installed by nobody but you: `apt-get install nagios4-core`).

    python bench/peer_nagios4.py --rate 200 --seconds 60        # one run, one JSON line

A hermetic instance in a temp dir: one host (host checks off), N services every N/R seconds
(interval_length 1), notifications, flap detection, performance data, retention, external commands
and the update check off, status.dat every 10 s (Debian's default). Measured over the window:

- achieved checks/s: Nagios's own `active_scheduled_service_check_stats` (checks in the last minute)
  from the status.dat written right after the window, divided by 60;
- latency: every service's `check_latency` in that status.dat (the lateness of its last start), as
  p50/p99/max;
- daemon CPU: utime + stime of the Nagios process and its worker processes (/proc/PID/stat), the
  plugins they fork excluded (as watchd's figure excludes its plugins);
- RSS: the main process, and main + workers;
- foreign load: machine busy CPU (/proc/stat) minus Nagios and its plugins, as watchd's run reports it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

NAGIOS = "/usr/sbin/nagios4"
PLUGIN = "/usr/lib/nagios/plugins/check_dummy"
STATUS_INTERVAL = 10
HZ = os.sysconf("SC_CLK_TCK")


def available() -> str | None:
    """None if Nagios 4 can run here, else why not."""
    if not os.path.exists(NAGIOS):
        return f"{NAGIOS} is not installed (Debian package nagios4-core)"
    if os.geteuid() != 0:
        return "Nagios 4 drops privileges to its user: run as root"
    try:
        pwd.getpwnam("nagios")
    except KeyError:
        return "no 'nagios' user (installed with nagios4-core)"
    return None


def write_config(directory: str, checks: int, rate: float) -> str:
    interval = checks / rate
    cfg = os.path.join(directory, "nagios.cfg")
    settings = {
        "log_file": f"{directory}/nagios.log",
        "cfg_file": f"{directory}/objects.cfg",
        "status_file": f"{directory}/status.dat",
        "status_update_interval": STATUS_INTERVAL,
        "nagios_user": "nagios",
        "nagios_group": "nagios",
        "check_external_commands": 0,
        "lock_file": f"{directory}/nagios.pid",
        "temp_file": f"{directory}/nagios.tmp",
        "temp_path": directory,
        "check_result_path": f"{directory}/spool",
        "use_syslog": 0,
        "interval_length": 1,
        "enable_notifications": 0,
        "process_performance_data": 0,
        "retain_state_information": 0,
        "execute_host_checks": 0,
        "enable_flap_detection": 0,
        "check_for_updates": 0,
        "max_concurrent_checks": 0,
        "log_initial_states": 0,
        "log_service_retries": 0,
    }
    with open(cfg, "w") as f:
        f.writelines(f"{k}={v}\n" for k, v in settings.items())
    objects = [
        f"define command {{\n command_name dummy\n command_line {PLUGIN} 0 OK\n}}",
        "define timeperiod {\n timeperiod_name 24x7\n alias 24x7\n"
        + "".join(f" {d} 00:00-24:00\n" for d in
                  ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"))
        + "}",
        "define contact {\n contact_name nobody\n host_notifications_enabled 0\n"
        " service_notifications_enabled 0\n host_notification_period 24x7\n"
        " service_notification_period 24x7\n"
        " host_notification_options n\n service_notification_options n\n host_notification_commands dummy\n"
        " service_notification_commands dummy\n}",
        "define host {\n host_name bench\n address 127.0.0.1\n check_command dummy\n max_check_attempts 1\n"
        " check_period 24x7\n active_checks_enabled 0\n contacts nobody\n notification_period 24x7\n}",
    ]  # fmt: skip
    width = len(str(checks - 1))
    objects += [
        f"define service {{\n host_name bench\n service_description dummy_{i:0{width}d}\n"
        f" check_command dummy\n check_interval {interval:g}\n retry_interval {interval:g}\n"
        " max_check_attempts 3\n check_period 24x7\n contacts nobody\n notification_period 24x7\n"
        " notifications_enabled 0\n}"
        for i in range(checks)
    ]
    with open(os.path.join(directory, "objects.cfg"), "w") as f:
        f.write("\n".join(objects) + "\n")
    os.makedirs(os.path.join(directory, "spool"), exist_ok=True)
    user = pwd.getpwnam("nagios")
    for root, dirs, files in os.walk(directory):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.chown(name, user.pw_uid, user.pw_gid)
    return cfg


def _stat(pid: int) -> tuple[int, float, str]:
    """(ppid, utime+stime seconds, comm) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        raw = f.read()
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / HZ, comm


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def family(main: int) -> list[int]:
    """The Nagios process and its own worker processes (not the plugins they fork)."""
    pids = [main]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid, _, comm = _stat(int(entry))
            except (OSError, ValueError):
                continue
            if ppid == main and comm.startswith("nagios"):
                pids.append(int(entry))
    return pids


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += _stat(pid)[1]
    return total


def children_cpu(pids: list[int]) -> float:
    """CPU of the reaped plugins: cutime + cstime of the workers."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        total += (int(fields[13]) + int(fields[14])) / HZ
    return total


def machine_busy() -> float:
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4] - (ticks[7] if len(ticks) > 7 else 0)) / HZ


def read_status(path: str) -> tuple[int, list[float]]:
    """(checks in the last minute, every service's check_latency in seconds)."""
    last_minute, latencies, in_service = 0, [], False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("active_scheduled_service_check_stats="):
                last_minute = int(line.split("=", 1)[1].split(",")[0])
            elif line.startswith("servicestatus {"):
                in_service = True
            elif line == "}":
                in_service = False
            elif in_service and line.startswith("check_latency="):
                latencies.append(float(line.split("=", 1)[1]))
    return last_minute, sorted(latencies)


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def run(checks: int, rate: float, seconds: float) -> dict[str, Any]:
    why = available()
    if why is not None:
        raise SystemExit(f"peer nagios4: {why}")
    directory = tempfile.mkdtemp(prefix="nagios4-bench-")
    os.chmod(directory, 0o755)
    cfg = write_config(directory, checks, rate)
    status = os.path.join(directory, "status.dat")
    proc = subprocess.Popen([NAGIOS, cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        warmup = checks / rate + 5.0
        time.sleep(warmup)
        pids = family(proc.pid)
        cpu0, plug0, busy0, t0 = cpu_of(pids), children_cpu(pids), machine_busy(), time.monotonic()
        time.sleep(max(seconds, 60.0))  # the last-minute counter wants a whole minute of running
        seen = os.stat(status).st_mtime
        deadline = time.monotonic() + STATUS_INTERVAL + 5
        while os.stat(status).st_mtime == seen and time.monotonic() < deadline:
            time.sleep(0.05)  # the next status.dat: its counters cover the minute just ended
        elapsed = time.monotonic() - t0
        cpu, plugin_cpu, busy = cpu_of(pids) - cpu0, children_cpu(pids) - plug0, machine_busy() - busy0
        rss_main, rss_all = _rss_mb(proc.pid), sum(_rss_mb(p) for p in pids)
        last_minute, latencies = read_status(status)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(directory, ignore_errors=True)
    achieved = last_minute / 60.0
    return {
        "daemon": "nagios4",
        "loadavg": float(open("/proc/loadavg").read().split()[0]),
        "target_rate": rate,
        "checks": checks,
        "window_s": elapsed,
        "checks_per_s": achieved,
        "latency_p50_ms": 1000 * _pct(latencies, 0.5),
        "latency_p99_ms": 1000 * _pct(latencies, 0.99),
        "latency_max_ms": 1000 * (latencies[-1] if latencies else float("nan")),
        "daemon_cpu_s": cpu,
        "cpu_ms_per_check": 1000 * cpu / (achieved * elapsed) if achieved else float("nan"),
        "plugin_cpu_s": plugin_cpu,
        "rss_main_mb": rss_main,
        "rss_mb": rss_all,
        "workers": len(pids) - 1,
        "other_cpu_s": busy - cpu - plugin_cpu,
        "machine_busy_pct": 100 * busy / elapsed / (os.cpu_count() or 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--checks", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=60.0)
    args = p.parse_args(argv)
    print(json.dumps(run(args.checks, args.rate, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
