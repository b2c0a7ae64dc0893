"""Graph sampling: each check at most once per slot of `sample_every`, and a fleet's samples spread
over time rather than all coming due together (they were all first sampled right after a start)."""

from __future__ import annotations

from collections import Counter

from watchd.console.subscriber import next_slot

EVERY = 300.0


def test_one_sample_per_slot_and_the_next_within_one_period() -> None:
    for key in ("web-1/http", "db-1/mysql", "x/y"):
        now = 1_000_000.0
        nxt = next_slot(now, EVERY, key)
        assert now < nxt <= now + EVERY
        assert next_slot(nxt, EVERY, key) == nxt + EVERY  # sampled at its slot: the next is a period on
        assert next_slot(nxt - 0.001, EVERY, key) == nxt  # just before it: still that slot


def test_a_fleet_first_sampled_together_is_next_sampled_spread_out() -> None:
    start = 1_000_000.0
    keys = (f"host-{i}/check-{i % 20}" for i in range(20_000))
    due = Counter(int((next_slot(start, EVERY, key) - start) // 30) for key in keys)
    # ten 30 s bins over the 5 min period: each about a tenth of the fleet
    assert sorted(due) == list(range(10))
    assert max(due.values()) < 1.2 * 2_000
    assert min(due.values()) > 0.8 * 2_000


def test_zero_samples_every_result() -> None:
    assert next_slot(5.0, 0.0, "a/b") == 5.0
