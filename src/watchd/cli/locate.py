"""Which configuration a command uses when none is given, and the marker a running daemon keeps.

One rule for every command (README.md, docs/configuration.md), first match wins:

1. `--config FILE`;
2. `$WATCHD_CONFIG`;
3. the config of the watchd running on the default state directory: `watchd run` keeps
   `<data_dir>/daemon.json` (pid and absolute config path) locked while it runs, so a stale file
   left by a killed daemon is never taken for a live one;
4. `/etc/watchd/watchd.yaml`, if it exists;
5. `config/watchd.yaml` of the source checkout this watchd runs from, if it exists (what
   `scripts/run` starts).

Otherwise the error names every place looked at.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO

SYSTEM_CONFIG = "/etc/watchd/watchd.yaml"
MARKER = "daemon.json"


class NoConfig(Exception):
    """No rule matched; `looked` lists (place, why it was not used) in rule order."""

    def __init__(self, looked: list[tuple[str, str]]) -> None:
        self.looked = looked
        lines = [f"  {place}: {why}" for place, why in looked]
        super().__init__(
            "no configuration found; looked at:\n"
            + "\n".join(lines)
            + "\ngive --config FILE or set WATCHD_CONFIG (README.md: 'Which config a command uses')"
        )


class AlreadyRunning(Exception):
    """Another `watchd run` holds the marker of this state directory."""


@dataclass(frozen=True, slots=True)
class Found:
    path: str
    how: str  # which rule matched, for messages


def checkout_config(module_file: str = __file__) -> str | None:
    """`config/watchd.yaml` of the source checkout holding this module (src/watchd/cli/), or None
    when watchd is installed elsewhere (site-packages has no pyproject.toml beside src/)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(module_file)))))
    if not os.path.isfile(os.path.join(root, "pyproject.toml")):
        return None
    return os.path.join(root, "config", "watchd.yaml")


def find_config(
    explicit: str | None,
    env: Mapping[str, str],
    state_dir: str,
    system: str = SYSTEM_CONFIG,
    checkout: str | None = None,
) -> Found:
    """Apply the rule above; NoConfig when nothing matched."""
    if explicit:
        return Found(explicit, "given by --config")
    looked = [("--config FILE", "not given")]
    if env.get("WATCHD_CONFIG"):
        return Found(env["WATCHD_CONFIG"], "from $WATCHD_CONFIG")
    looked.append(("$WATCHD_CONFIG", "not set"))
    marker = os.path.join(state_dir, MARKER)
    running = running_daemon(state_dir)
    if running is not None and os.path.isfile(running[1]):
        return Found(running[1], f"the running watchd's config (pid {running[0]})")
    looked.append(
        (f"a running watchd ({marker})", "none running" if running is None else f"{running[1]} is gone")
    )
    if os.path.isfile(system):
        return Found(system, "the system config")
    looked.append((system, "does not exist"))
    if checkout is not None and os.path.isfile(checkout):
        return Found(checkout, "this source checkout's config")
    looked.append(
        ("config/watchd.yaml of a source checkout", "not run from a checkout")
        if checkout is None
        else (checkout, "does not exist")
    )
    raise NoConfig(looked)


def running_daemon(state_dir: str) -> tuple[int, str] | None:
    """(pid, config path) of the watchd holding `state_dir`'s marker; None when none does."""
    try:
        f = open(os.path.join(state_dir, MARKER), encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError:
        return None
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # locked: its daemon is alive
        else:
            return None  # a stale marker (the daemon was killed)
        try:
            doc = json.loads(f.read())
            return int(doc["pid"]), str(doc["config"])
        except (ValueError, KeyError, TypeError):
            return None  # being written right now


@contextlib.contextmanager
def daemon_marker(data_dir: str, config_path: str) -> Iterator[None]:
    """Hold `<data_dir>/daemon.json` for as long as the daemon runs; AlreadyRunning when another
    daemon holds it (two daemons on one store would each notify and open tickets)."""
    os.makedirs(data_dir, mode=0o750, exist_ok=True)
    path = os.path.join(data_dir, MARKER)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "r+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(_holder(f, data_dir)) from None
        f.truncate(0)
        f.write(json.dumps({"pid": os.getpid(), "config": os.path.abspath(config_path)}) + "\n")
        f.flush()
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _holder(f: IO[str], data_dir: str) -> str:
    try:
        doc = json.loads(f.read())
        who = f"pid {doc['pid']}, config {doc['config']}"
    except (ValueError, KeyError, TypeError):
        who = "starting"
    return f"watchd is already running on {data_dir} ({who}); stop it first"
