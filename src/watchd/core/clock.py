"""Injected time. Pure code takes `now` as an argument; stages that need a clock take a `Clock`."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    """Wall time (UTC epoch seconds, for records) and monotonic time (for scheduling)."""

    def time(self) -> float: ...

    def monotonic(self) -> float: ...


class FakeClock:
    """A clock tests move by hand; both readings advance together."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._wall = start
        self._mono = 1000.0

    def time(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._wall += seconds
        self._mono += seconds
