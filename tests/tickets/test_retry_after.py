"""A ticket system's `Retry-After` (429/503) travels from the HTTP answer to the outbox, which waits
at least that long before the next attempt (injected clock); and the parsing of the header."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from watchd.core.clock import FakeClock
from watchd.core.errors import DeliveryError
from watchd.delivery import outbox
from watchd.delivery.httpcall import MAX_RETRY_AFTER, parse_retry_after
from watchd.delivery.outbox import Deliverer
from watchd.store import Store

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (email.utils.formatdate(NOW + 90, usegmt=True), 90.0),
        (email.utils.formatdate(NOW - 90, usegmt=True), 0.0),
        ("999999", MAX_RETRY_AFTER),
        ("soon", None),
        ("", None),
        (None, None),
    ],
    ids=["delta", "zero", "http-date", "date-in-the-past", "capped", "garbage", "empty", "absent"],
)
def test_retry_after_header(header: str | None, seconds: float | None) -> None:
    """Delta-seconds or an HTTP date (RFC 9110), never negative, capped; anything else is None."""
    assert parse_retry_after(header, now=NOW) == seconds


class Busy:
    """A channel that is rate-limited once with the given Retry-After, then accepts."""

    def __init__(self, retry_after: float | None) -> None:
        self.retry_after = retry_after
        self.calls = 0

    async def deliver_row(self, kind: str, payload: dict[str, Any], op_id: int, ref: str | None) -> str:
        self.calls += 1
        if self.calls == 1:
            raise DeliveryError("HTTP 429: slow down", retryable=True, retry_after=self.retry_after)
        return "T-1"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(str(tmp_path / "w.db"))
    yield s
    s.close()


@pytest.mark.parametrize(
    ("retry_after", "earliest"), [(40.0, 40.0), (None, 0.0), (0.5, 0.5)], ids=["longer", "none", "shorter"]
)
async def test_the_outbox_waits_as_long_as_it_was_asked(
    store: Store, retry_after: float | None, earliest: float
) -> None:
    """The next attempt is at max(backoff, Retry-After): not sooner, and delivered once it is due."""
    clock = FakeClock(NOW)
    channel = Busy(retry_after)
    d = Deliverer(store, {"ticket:x": channel}, clock, rng=random.Random(3), base_backoff=1, max_backoff=2)
    with store.transaction() as db:
        outbox.enqueue(db, 1, "ticket:x", "open", {}, NOW)
    await d.run_once()
    [(next_attempt,)] = store.db.execute("SELECT next_attempt FROM outbox").fetchall()
    assert next_attempt - NOW >= earliest
    assert (next_attempt - NOW >= 40.0) == (retry_after == 40.0)  # the backoff alone stays under 2s
    clock.advance(next_attempt - NOW - 0.01)
    await d.run_once()
    assert channel.calls == 1
    clock.advance(0.02)
    await d.run_once()
    assert channel.calls == 2
    assert store.db.execute("SELECT status FROM outbox").fetchall() == [("done",)]
