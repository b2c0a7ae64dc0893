"""Fixtures for the importer tests: `watchd validate` on what an import wrote."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from migrate.helpers import Validate
from watchd.migrate.model import Migration
from watchd.migrate.yamlout import render


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
            [*watchd_cmd, "validate", "--config", str(d / "watchd.yaml")],
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run
