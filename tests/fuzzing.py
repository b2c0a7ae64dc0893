"""Hypothesis settings for the property tests, and the hostile values they share.

In the test command every property test is bounded (`bounded(n)`: at most n cases, no deadline) and
derandomized, so CI sees the same cases on every run and stays within seconds. For a longer, random
exploration: `WATCHD_FUZZ_SCALE=50 .venv/bin/python -m pytest -k fuzz` (50 times the cases, fresh
random seeds; a failure prints the blob to reproduce it with @reproduce_failure).
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SCALE = float(os.environ.get("WATCHD_FUZZ_SCALE", "1"))


def bounded(max_examples: int) -> settings:
    return settings(
        max_examples=max(1, int(max_examples * SCALE)),
        deadline=None,
        derandomize=SCALE == 1,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# Numbers that broke parsers before: huge, tiny, negative, non-finite, just past 64-bit integers.
NASTY_NUMBERS = st.sampled_from(
    [0, -1, 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, 10**400, 1e300, -1e300, 5e-324,
     float("nan"), float("inf"), float("-inf"), 1_700_000_000, 4102444800, 946684799.999]
)  # fmt: skip
NASTY_TEXT = st.sampled_from(
    ["", " ", "now", "-5", "-5m", "0s", "1e3", "nan", "inf", "Infinity", "99999999999999999999d", "366d",
     "367d", "1.5h", "2026-11-23T22:00:00Z", "2026-11-23T22:00", "9999-12-31T23:59:59Z",
     "0001-01-01T00:00:00+14:00", "2099-12-31T23:59:59-23:59", "\udcff", "\ud800", "\x00", "é", "١٢",
     "9" * 400, "[" * 2000, "--", "-h"]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), NASTY_NUMBERS, st.text(max_size=30), NASTY_TEXT
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def dumps(value: Any) -> bytes:
    """JSON as a hostile sender may write it: NaN and Infinity included, lone surrogates escaped."""
    return json.dumps(value, allow_nan=True).encode()
