from __future__ import annotations

import os
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

PLUGINS = "/usr/lib/nagios/plugins"
REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    if not os.path.exists(f"{PLUGINS}/check_dummy"):
        raise pytest.UsageError("monitoring-plugins-basic is missing; run the test command from README.md")


@pytest.fixture
def script(tmp_path: Path) -> Callable[[str, str], str]:
    """Write an executable script into tmp_path and return its path."""

    def make(name: str, body: str) -> str:
        path = tmp_path / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return str(path)

    return make


@pytest.fixture
def watchd_cmd() -> list[str]:
    """How to invoke the CLI as a subprocess, as a user would."""
    exe = shutil.which("watchd", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "watchd"]
