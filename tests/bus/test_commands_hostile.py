"""Hostile silence arguments over MQTT (issue 12): the same time and span rules as the API and the
CLI (watchd.core.timespec), so an absurd or non-finite time is a refusal, never a stored row."""

from __future__ import annotations

import json
from typing import Any

import pytest

from watchd.bus.commands import Refusal, Refused, ReplayCache, Silence, Verified, sign, signature, verify

SECRET = b"0123456789abcdef-shared"
NOW = 1_700_000_000.0


def silence(args: dict[str, Any] | str) -> Verified | Refused:
    """Verify a signed silence command with `args` (a dict, or raw JSON members for NaN and Infinity,
    which json.dumps would not write but a hostile sender can)."""
    if isinstance(args, dict):
        payload = sign(SECRET, "web-1", "silence", {"check": "load", **args}, NOW, "nonce-0001")
    else:
        template = sign(SECRET, "web-1", "silence", {"check": "load", "x": 0}, NOW, "nonce-0001")
        body = json.loads(template)["body"].replace('"x":0', args)
        payload = json.dumps({"body": body, "sig": signature(SECRET, body)}).encode()
    return verify(
        payload, secret=SECRET, host="web-1", verb="silence", now=NOW, max_age=60, cache=ReplayCache()
    )


@pytest.mark.parametrize(
    ("args", "detail"),
    [
        pytest.param({"for": "99999999999999999999d"}, "for: must be at most 366 days", id="huge-for"),
        pytest.param({"for": 1e300}, "for: must be at most 366 days", id="huge-for-seconds"),
        pytest.param('"for":NaN', "for: must be a finite number", id="nan-for"),
        pytest.param('"for":Infinity', "for: must be a finite number", id="inf-for"),
        pytest.param({"for": "-5m"}, "for: expected a duration like 30s, 5m or 1h", id="negative-for"),
        pytest.param({"until": 1e300}, "until: must be between 2000-01-01 and 2100-01-01", id="huge-until"),
        pytest.param('"until":NaN', "until: must be a finite number", id="nan-until"),
        pytest.param({"until": "9999-12-31T00:00:00Z"}, "until: must be between 2000-01-01", id="year-9999"),
        pytest.param({"until": 10**400}, "until: must be between 2000-01-01", id="400-digit-until"),
        pytest.param({"until": "2023-11-15T00:00:00"}, "until: give a UTC offset or Z", id="naive-until"),
        pytest.param({"until": NOW + 400 * 86400}, "until: at most 366 days ahead", id="until-too-far"),
    ],
)
def test_absurd_silence_times_are_refused(args: dict[str, Any] | str, detail: str) -> None:
    """Each absurd time is refused as bad arguments with the field and the rule in the detail."""
    out = silence(args)
    assert isinstance(out, Refused), out
    assert out.reason is Refusal.BAD_ARGS
    assert detail in out.detail, out.detail


@pytest.mark.parametrize(
    ("args", "until"),
    [
        pytest.param({"for": "366d"}, NOW + 366 * 86400, id="longest-for"),
        pytest.param({"until": "2023-11-15T00:00:00+01:00"}, 1_700_002_800.0, id="until-offset"),
        pytest.param({"until": NOW + 60}, NOW + 60, id="until-epoch"),
    ],
)
def test_sane_silence_times_pass(args: dict[str, Any], until: float) -> None:
    """The limits themselves and ordinary times are accepted."""
    assert silence(args) == Verified(Silence("load", until, ""), "nonce-0001")
