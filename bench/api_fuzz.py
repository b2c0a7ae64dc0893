"""A long schemathesis run against the HTTP API: the fuzzing of tests/api/test_api_fuzz.py, bigger.

    .venv/bin/python bench/api_fuzz.py                         # 200 cases per operation and phase
    .venv/bin/python bench/api_fuzz.py --examples 1000 --seed 7
    .venv/bin/python bench/api_fuzz.py --max-time 600          # fuzzing repeats until 10 min are spent

A real daemon (watchd.daemon.Daemon with two shell plugins, one failing so an incident is open, the
real SQLite store) serves the API on 127.0.0.1 in a thread of this process; `st run` reads the
OpenAPI document from /api/v1/openapi.json and runs its examples, coverage, fuzzing and stateful
phases with all its checks but positive_data_acceptance, plus `reads_render` (tests/api/st_hooks.py):
after every accepted write, maintenance, incidents, checks, services and the status page must still
answer 200 as documented. One run with the bearer token, one without.

Prints per run: cases generated (schemathesis' count), requests sent (counted by the server), the
answers by method and status, failures found (each failing operation and check), and the time. The
exit code is 1 if anything failed; the full schemathesis output of a failing run is kept in the file
named on the last line.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests" / "api"), str(REPO / "tests")]

from apifuzz import schemathesis_run, serve  # noqa: E402

from watchd.runtime.logs import configure  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--examples", type=int, default=200, help="cases per operation and phase (default 200)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-time", type=float, help="seconds for each run (fuzzing repeats until spent)")
    p.add_argument("--authenticated-only", action="store_true")
    args = p.parse_args()
    configure("error", "console")  # the daemon's own log: only what goes wrong
    failed = False
    with tempfile.TemporaryDirectory(prefix="api-fuzz-") as tmp, serve(Path(tmp)) as served:
        for authenticated in (True,) if args.authenticated_only else (True, False):
            served.answers.clear()
            t0 = time.monotonic()
            run = schemathesis_run(
                served, Path(tmp), examples=args.examples, seed=args.seed, authenticated=authenticated,
                max_time=args.max_time,
            )  # fmt: skip
            took = time.monotonic() - t0
            who = "with token" if authenticated else "without token"
            found = len(run.failures)
            counts = f"{run.cases} cases generated, {run.requests} requests sent, {found} failures found"
            print(f"{who}: {counts}, {took:.0f} s (st exit {run.returncode})")
            print("  answers: " + ", ".join(f"{k} x{v}" for k, v in sorted(served.answers.items())))
            for failure in run.failures:
                print(f"  FAILED {failure}")
            if run.failures or run.returncode:
                failed = True
                out = Path(tempfile.gettempdir()) / f"api-fuzz-{'auth' if authenticated else 'anon'}.txt"
                out.write_text(run.output)
                print(f"  schemathesis output: {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
