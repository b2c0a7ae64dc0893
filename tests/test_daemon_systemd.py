"""`watchd run` under a (fake) systemd: the notification protocol over a real NOTIFY_SOCKET."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def receive_until(sock: socket.socket, want: str, seen: list[str], timeout: float = 15.0) -> list[str]:
    """Collect datagrams until one contains `want` (each datagram is newline-separated fields)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(4096).decode()
        except TimeoutError:
            break
        seen.append(data)
        if want in data.split("\n"):
            return seen
    raise AssertionError(f"no {want!r} within {timeout}s; got {seen}")


def test_notify_protocol(tmp_path: Path, watchd_cmd: list[str]) -> None:
    """READY=1 with a STATUS once started; WATCHDOG=1 pings while healthy; RELOADING=1 then READY=1
    around SIGHUP; STOPPING=1 on SIGTERM, then a clean exit."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    cfg = tmp_path / "watchd.yaml"
    cfg.write_text(
        f"data_dir: {tmp_path / 'data'}\napi: {{enabled: false}}\nlog: {{level: warning, format: json}}\n"
        "defaults: {interval: 0.5s}\nchecks:\n  ok: {command: [/bin/true]}\n"
    )
    env = {**os.environ, "NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"}
    proc = subprocess.Popen([*watchd_cmd, "run", "--config", str(cfg)], env=env, stderr=subprocess.PIPE)
    seen: list[str] = []
    try:
        receive_until(sock, "READY=1", seen)
        ready = next(d for d in seen if "READY=1" in d.split("\n"))
        assert "STATUS=1 checks, 0 problems, outbox backlog 0" in ready.split("\n")
        receive_until(sock, "WATCHDOG=1", seen)
        pings_before = sum(d.count("WATCHDOG=1") for d in seen)
        receive_until(sock, "WATCHDOG=1", seen)
        assert sum(d.count("WATCHDOG=1") for d in seen) > pings_before

        proc.send_signal(signal.SIGHUP)
        receive_until(sock, "RELOADING=1", seen)
        reloading = next(d for d in seen if "RELOADING=1" in d.split("\n"))
        assert any(f.startswith("MONOTONIC_USEC=") for f in reloading.split("\n"))
        receive_until(sock, "READY=1", seen[-1:])

        proc.send_signal(signal.SIGTERM)
        receive_until(sock, "STOPPING=1", seen)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()


def test_no_notify_socket_is_fine(tmp_path: Path, watchd_cmd: list[str]) -> None:
    """Without systemd the daemon runs and stops as usual, and plugins never see NOTIFY_SOCKET."""
    cfg = tmp_path / "watchd.yaml"
    out = tmp_path / "env.txt"
    plugin = tmp_path / "check_env"
    plugin.write_text(f"#!/bin/sh\nenv > {out}\necho OK\n")
    plugin.chmod(0o755)
    cfg.write_text(
        f"data_dir: {tmp_path / 'data'}\napi: {{enabled: false}}\nlog: {{level: warning}}\n"
        f"defaults: {{interval: 0.2s}}\nchecks:\n  env: {{command: [{plugin}]}}\n"
    )
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "nobody-listens"), "WATCHDOG_USEC": "5000000"}
    proc = subprocess.Popen([*watchd_cmd, "run", "--config", str(cfg)], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert out.exists()
        assert "NOTIFY_SOCKET" not in out.read_text()
        assert "WATCHDOG_USEC" not in out.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
