"""The HTTP API fuzzed from its own OpenAPI document by schemathesis (`st run`: examples, coverage,
fuzzing and stateful phases) against a real daemon, with real plugins and the real store, serving on
a loopback port. tests/api/test_api_fuzz.py runs it bounded in the test command; bench/api_fuzz.py
runs it long and prints the counts.

Checks: all of schemathesis' (no 500; status codes, content types, headers and bodies as documented;
data the document forbids is refused; auth is not ignored; a deleted resource is gone...) except
`positive_data_acceptance`, plus `reads_render` (st_hooks.py: after every accepted write the reads
still render). positive_data_acceptance is left out on purpose: it wants every request the schema
allows accepted, but a schema cannot say "a configured check" or "not already over", and the API
answers such requests 400 with the reason, as documented.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from apihelpers import TOKEN, Host, api_config

from watchd.api.server import ApiServer

HERE = Path(__file__).resolve().parent
ST = str(Path(sys.executable).with_name("st"))


@dataclass
class Served:
    base: str
    host: Host
    requests: list[int] = field(default_factory=lambda: [0])  # answered by the server, counted there
    answers: collections.Counter[str] = field(default_factory=collections.Counter)  # "POST 201": n


@contextlib.contextmanager
def serve(root: Path) -> Iterator[Served]:
    """A daemon with the API on 127.0.0.1:<free port>, run in a thread of its own (so a blocking
    client can call it); web fails and db is OK, so an incident is there to act on."""
    host = Host(root)
    host.set("web", 2)
    served = Served("", host)
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def count(request: web.Request, response: web.StreamResponse) -> None:
        served.requests[0] += 1
        served.answers[f"{request.method} {response.status}"] += 1

    async def main() -> None:
        d = host.daemon()
        await d.start()
        await d.run_check("web")
        await d.run_check("db")
        api = ApiServer(d, api_config(host))
        api.app.on_response_prepare.append(count)
        await api.start()
        box.update(port=api.port, stop=asyncio.Event(), loop=asyncio.get_running_loop())
        ready.set()
        await box["stop"].wait()
        await api.stop()
        await d.stop()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="api-under-fuzz", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the daemon under test did not start")
    served.base = f"http://127.0.0.1:{box['port']}"
    try:
        yield served
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(30)


@dataclass
class Run:
    """One `st run`: its exit code, the cases it generated, the requests the server answered and
    the failures it printed."""

    returncode: int
    cases: int
    requests: int
    output: str

    @property
    def failures(self) -> list[str]:
        """One line per failing operation and check, e.g. 'POST /api/v1/silences: ST201 ...'."""
        out, operation = [], ""
        for line in self.output.splitlines():
            if m := re.match(r"^_+ (\w+ /\S*) _+$", line):
                operation = m.group(1)
            elif m := re.match(r"^- (\S+ .+)$", line):
                out.append(f"{operation}: {m.group(1)}")
        return out


def schemathesis_run(
    served: Served,
    workdir: Path,
    *,
    examples: int,
    seed: int = 1,
    authenticated: bool = True,
    max_time: float | None = None,
    phases: str = "examples,coverage,fuzzing,stateful",
) -> Run:
    """`st run` against `served` from its own document; `examples` cases per operation and phase."""
    before = served.requests[0]
    argv = [
        ST, "run", f"{served.base}/api/v1/openapi.json", "--checks", "all",
        "--exclude-checks", "positive_data_acceptance", "--max-examples", str(examples), "--seed", str(seed),
        "--workers", "1", "--phases", phases, "--generation-database", "none", "--no-color",
        "--request-timeout", "30", "--suppress-health-check", "all", "--warnings", "off",
    ]  # fmt: skip
    if authenticated:
        argv += ["-H", f"Authorization: Bearer {TOKEN}"]
    if max_time is not None:
        argv += ["--max-time", str(int(max_time))]
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "st_hooks", "PYTHONPATH": path}
    proc = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=3600)
    output = proc.stdout + proc.stderr
    m = re.search(r"Test cases:\s*\n\s*(\d+) generated", output)
    return Run(proc.returncode, int(m.group(1)) if m else 0, served.requests[0] - before, output)
