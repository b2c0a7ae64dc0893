"""Fixtures for the console: a real mosquitto, real watchd daemons in-process, the console in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from servers.mosquitto import Mosquitto, available, start_mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    why = available()
    if why:
        pytest.skip(why)
    with start_mosquitto(tmp_path / "broker") as b:
        yield b
