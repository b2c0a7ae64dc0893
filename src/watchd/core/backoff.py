"""Retry delays: exponential backoff with "equal jitter". Pure: the randomness is injected.

One formula for everything that retries (MQTT reconnects, outbox deliveries), so they cannot drift:
the cap doubles from `base` up to `cap`, and the delay is drawn from the upper half of it, so retries
spread out and never come back near zero.
"""

from __future__ import annotations

import random


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """The delay before retry `attempt` (0 = the first retry)."""
    delay = min(cap, base * 2.0 ** min(max(attempt, 0), 60))
    return delay / 2 + rng.random() * delay / 2
