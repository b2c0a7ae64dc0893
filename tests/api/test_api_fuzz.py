"""The API fuzzed by schemathesis from its own OpenAPI document (issue 12), bounded: a real daemon
with real plugins on a loopback port, every operation, authenticated and not. No 500, no answer the
document does not describe, no forbidden input accepted, and no accepted write after which a read
cannot render (apifuzz.py says what is checked; bench/api_fuzz.py runs the same for longer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apifuzz import Served, schemathesis_run, serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("fuzz")) as s:
        yield s


@pytest.mark.parametrize(
    ("authenticated", "phases", "examples", "at_least"),
    [
        pytest.param(True, "examples,coverage,fuzzing,stateful", 10, 500, id="authenticated"),
        pytest.param(False, "examples,fuzzing", 5, 50, id="anonymous"),
    ],
)
def test_schemathesis_finds_nothing(
    served: Served, tmp_path: Path, authenticated: bool, phases: str, examples: int, at_least: int
) -> None:
    """A bounded schemathesis run passes every check, and really ran (so many cases, all answered)."""
    run = schemathesis_run(served, tmp_path, examples=examples, authenticated=authenticated, phases=phases)
    assert run.failures == [], run.output[-6000:]
    assert run.returncode == 0, run.output[-6000:]
    assert run.cases >= at_least, run.output[-3000:]
    assert run.requests >= run.cases
