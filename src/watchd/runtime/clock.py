"""The real clock, for the edges. Pure code takes `now`; stages take a `core.clock.Clock`."""

from __future__ import annotations

import time


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()
