"""What console tests share: watchd hosts on a broker (real daemons, in-process), a console config,
the console itself, and polling with a deadline."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchd import config
from watchd.console import config as console_config
from watchd.console.server import ConsoleServer
from watchd.daemon import Daemon

SECRET = "fleet-command-secret-for-tests"


def host_config(root: Path, host: str, port: int, checks: dict[str, int], extra: str = "") -> Path:
    """A watchd host whose checks' exit codes live in files: `set_code(root, check, 2)` flips one."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "secret").write_text(SECRET)
    lines = []
    for name, code in checks.items():
        (root / f"{name}.code").write_text(str(code))
        plugin = root / f"check_{name}"
        plugin.write_text(
            f"#!/bin/sh\nc=$(cat {root / (name + '.code')})\n"
            f'echo "{name} code $c|load=$c;1;2;0 time=0.$c""s"\nexit $c\n'
        )
        plugin.chmod(0o755)
        lines.append(f"  {name}: {{command: [{plugin}], notify: [ops]}}")
    cfg = root / "watchd.yaml"
    cfg.write_text(
        f"host: {host}\ndata_dir: {root / 'data'}\napi: {{enabled: false}}\n"
        "log: {level: warning, format: json}\n"
        "defaults: {interval: 0.3s, retry_interval: 0.3s, max_attempts: 1}\n"
        f"mqtt: {{host: 127.0.0.1, port: {port}, heartbeat_interval: 1s, reconnect: {{min: 0.1s, max: 1s}},"
        f" command_secret_file: {root / 'secret'}}}\n"
        "checks:\n" + "\n".join(lines) + "\n"
        "contacts:\n  ops: {kind: oncall, mqtt: true}\n" + extra
    )
    return cfg


def set_code(root: Path, check: str, code: int) -> None:
    (root / f"{check}.code").write_text(str(code))


async def start_host(root: Path, host: str, port: int, checks: dict[str, int], extra: str = "") -> Daemon:
    cfg = host_config(root, host, port, checks, extra)
    d = Daemon(config.load(str(cfg)), str(cfg))
    await d.start()
    return d


def console_config_file(root: Path, port: int, body: str = "", console: str = "") -> Path:
    """`console`: more keys for the `console:` section, e.g. "resync: false"."""
    more = ", " + console if console else ""
    root.mkdir(parents=True, exist_ok=True)
    (root / "secret").write_text(SECRET)
    cfg = root / "console.yaml"
    cfg.write_text(
        f"console: {{listen: 127.0.0.1:0, database: {root / 'console.db'}, command_timeout: 10s{more}}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {port}, heartbeat_interval: 1s, reconnect: {{min: 0.1s, max: 1s}},"
        f" command_secret_file: {root / 'secret'}}}\n"
        f"auth:\n  accounts:\n    alice: {{password_hash: '{operator_hash()}', role: operator}}\n"
        f"    victor: {{password_hash: '{operator_hash()}', role: viewer}}\n" + body
    )
    return cfg


PASSWORD = "correct horse battery"


@functools.cache
def operator_hash() -> str:
    from watchd.console.accounts import hash_password

    return hash_password(PASSWORD)


async def start_console(
    root: Path, port: int, body: str = "", now: Callable[[], float] = time.time, console: str = ""
) -> ConsoleServer:
    cfg = console_config.load(str(console_config_file(root, port, body, console)))
    server = ConsoleServer(cfg, now)
    await server.start()
    return server


async def until(what: Callable[[], Any], timeout: float = 15.0, message: str = "") -> Any:
    """Poll `what()` until it is truthy; fail with `message` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = what()
        if value:
            return value
        assert loop.time() < deadline, message or f"condition not met within {timeout}s"
        await asyncio.sleep(0.05)
