"""Shared ticket text, timestamps and strict option reading (pure, no servers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tickethelpers import MakeIntent

from watchd.core.errors import ParamError
from watchd.delivery.tickets.render import Options, iso_utc, render_text


@pytest.mark.parametrize(
    ("ts", "text"),
    [
        pytest.param(1714564800.0, "2024-05-01T12:00:00Z", id="whole-second"),
        pytest.param(1714564800.999, "2024-05-01T12:00:00Z", id="fraction-dropped"),
        pytest.param(0.0, "1970-01-01T00:00:00Z", id="epoch"),
        pytest.param(None, None, id="none"),
    ],
)
def test_iso_utc(ts: float | None, text: str | None) -> None:
    """Epoch seconds become ISO-8601 UTC with a Z, to the second."""
    assert iso_utc(ts) == text


def test_render_text(make_intent: MakeIntent) -> None:
    """The body comes first, then a signature separator and aligned details; absent deadlines are left out."""
    text = render_text(make_intent(body="DISK CRITICAL\n\n", respond_by=None, resolve_by=1714579200.0))
    assert text == (
        "DISK CRITICAL\n"
        "\n-- \nwatchd\n"
        "Host:       web01\n"
        "Check:      disk_root\n"
        "State:      CRITICAL\n"
        "Priority:   P2\n"
        "Changed at: 2024-05-01T12:00:00Z\n"
        "Resolve by: 2024-05-01T16:00:00Z\n"
        "Incident:   17 (watchd-web01-disk_root-17)\n"
    )


@pytest.mark.parametrize(
    ("raw", "key", "fragment"),
    [
        pytest.param({"secret_file": "a", "secret_env": "B"}, "secret_env", "not both", id="file-and-env"),
        pytest.param({"secret_file": "empty"}, "secret_file", "is empty", id="empty-file"),
        pytest.param({"secret": "x"}, "secret", "inline", id="inline"),
        pytest.param({}, "secret_file", "required", id="missing"),
    ],
)
def test_secret_errors(tmp_path: Path, raw: dict[str, Any], key: str, fragment: str) -> None:
    """A secret is exactly one of a non-empty file or a set environment variable."""
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ParamError) as err:
        Options(raw, str(tmp_path)).secret("secret", required=True)
    assert (err.value.key, fragment in err.value.message) == (key, True)


def test_secret_file_is_stripped_and_relative(tmp_path: Path) -> None:
    """A relative secret file is read from the base directory, surrounding whitespace stripped."""
    (tmp_path / "s").write_text("  tok\n")
    assert Options({"secret_file": "s"}, str(tmp_path)).secret("secret", required=True) == "tok"


def test_unknown_key_is_named() -> None:
    """done() names the first key nobody read."""
    o = Options({"url": "http://x", "ur1": "typo"})
    o.text("url")
    with pytest.raises(ParamError) as err:
        o.done()
    assert err.value.key == "ur1"
