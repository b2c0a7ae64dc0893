"""Helpers for the importer tests: the fixture configs, and `watchd validate` on what was written."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from watchd.migrate.model import Check, Migration
from watchd.migrate.yamlout import render

FIXTURES = Path(__file__).parent / "fixtures"

Validate = Callable[[Migration, bool], subprocess.CompletedProcess[str]]


@pytest.fixture
def validate(tmp_path: Path, watchd_cmd: list[str]) -> Validate:
    """Write the migration as a conf.d file beside a minimal watchd.yaml (or as the whole file with
    full=True) and run the real `watchd validate` on it."""

    def run(m: Migration, full: bool = False) -> subprocess.CompletedProcess[str]:
        d = tmp_path / ("full" if full else "fragment")
        (d / "conf.d").mkdir(parents=True, exist_ok=True)
        text = render(m, "watchd import (test)", full=full, timezone="Europe/Berlin")
        if full:
            (d / "watchd.yaml").write_text(text + f"data_dir: {d / 'data'}\n")
        else:
            (d / "watchd.yaml").write_text(f"data_dir: {d / 'data'}\n")  # no checks:, no macros:
            (d / "conf.d" / "imported.yaml").write_text(text)
        return subprocess.run(
            [*watchd_cmd, "validate", "--config", str(d / "watchd.yaml")], capture_output=True, text=True, timeout=60
        )

    return run


def by_name(m: Migration) -> dict[str, Check]:
    return {c.name: c for c in m.checks}


def findings(m: Migration, skipped: bool = True) -> list[str]:
    """Findings as 'FILE-BASENAME:LINE: subject: message' for stable comparison."""
    out = []
    for f in m.findings:
        if f.skipped != skipped:
            continue
        where = f"{Path(f.origin.file).name}:{f.origin.line}: " if f.origin else ""
        out.append(f"{where}{f.subject}: {f.message}")
    return out
