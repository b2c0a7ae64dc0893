from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from mqtt_helpers import Runner, _collect

from servers.mosquitto import Mosquitto, available, start_mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    why = available()
    if why:
        pytest.skip(why)
    with start_mosquitto(tmp_path / "broker") as b:
        yield b


@pytest.fixture
def runners() -> Iterator[Callable[[str, dict[str, Any]], Runner]]:
    started: list[Runner] = []

    def start(host: str, mqtt: dict[str, Any]) -> Runner:
        r = Runner(host, mqtt)
        started.append(r)
        return r

    yield start
    for r in started:
        r.close()


@pytest.fixture
def collector(broker: Mosquitto) -> Callable[..., Any]:
    """`async with collector("watchd/#") as c:` subscribes an independent client."""

    def make(*topics: str, port: int | None = None, **kwargs: Any) -> Any:
        return _collect(port or broker.port, topics, kwargs)

    return make
