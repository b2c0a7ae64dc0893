from __future__ import annotations

import os
import shutil
import stat
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

PLUGINS = "/usr/lib/nagios/plugins"
CHROMIUM = "/usr/bin/chromium"
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


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's headless chromium driven by Playwright (which never downloads a browser of its own)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.async_api")
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run"]  # fmt: skip
    async with playwright.async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=flags, headless=True)
        try:
            yield b
        finally:
            await b.close()
