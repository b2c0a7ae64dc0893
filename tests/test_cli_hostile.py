"""Hostile arguments to `watchd silence`, `downtime`, `ack` and `incidents` as a user types them
(issue 12): absurd times and ids are a clear error (exit 2 from argument parsing, 1 from the store),
never a traceback or a stored row, and rows an older version stored with absurd times still list."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from watchd import config
from watchd.store import Store


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "watchd.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\napi: {{enabled: false}}\n"
        "checks:\n  web: {command: [/bin/true], tags: [web]}\n"
    )
    Store(config.load(str(path)).db_path).close()  # what a first `watchd run` leaves behind
    return path


def run(watchd_cmd: list[str], cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*watchd_cmd, *args, "--config", str(cfg)], capture_output=True, text=True, timeout=30
    )


def stored(cfg: Path) -> int:
    db = sqlite3.connect(cfg.parent / "data" / "watchd.db")
    try:
        return sum(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("silences", "downtimes"))
    finally:
        db.close()


HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(("silence", "web", "--for", "99999999999999999999d"), 2,
                     "argument --for: must be at most 366 days", id="silence-huge-for"),
        pytest.param(("silence", "web", "--for", "0s"), 2, "argument --for: must be positive",
                     id="silence-0s"),
        pytest.param(("silence", "web", "--until", "9999-12-31T00:00+00:00"), 2,
                     "argument --until: must be between 2000-01-01 and 2100-01-01", id="silence-until-9999"),
        pytest.param(("silence", "web", "--until", "2099-01-01T00:00"), 2,
                     "argument --until: give a UTC offset or Z", id="silence-until-naive"),
        pytest.param(("silence", "web", "--until", "2099-01-01T00:00Z"), 1,
                     "a silence may last at most 366 days", id="silence-until-too-far"),
        pytest.param(("downtime", "add", "--start", "now", "--for", "999999999999d"), 2,
                     "argument --for: must be at most 366 days", id="downtime-huge-for"),
        pytest.param(("downtime", "add", "--start", "0001-01-01T00:00+00:00", "--for", "1h"), 2,
                     "argument --start: must be between 2000-01-01", id="downtime-year-1"),
        pytest.param(("downtime", "add", "--start", "now", "--end", "2099-12-31T23:59:59+00:00"), 1,
                     "a downtime may last at most 366 days", id="downtime-too-long"),
        pytest.param(("downtime", "add", "--start", "2099-12-31T23:00Z", "--for", "2h"), 1,
                     "ends_at: must be between 2000-01-01 and 2100-01-01", id="downtime-ends-after-2100"),
        pytest.param(("silence", "web", "--comment", "\udcff", "--for", "1h"), 2,
                     "argument --comment: not valid UTF-8 text", id="comment-not-utf8"),
        pytest.param(("silence", "web", "--remove", HUGE), 1, f"no active silence #{HUGE}", id="silence-rm"),
        pytest.param(("downtime", "remove", HUGE), 1, f"no active downtime #{HUGE}", id="downtime-rm"),
        pytest.param(("ack", HUGE), 1, f"no incident #{HUGE}", id="ack"),
        pytest.param(("incidents", "show", HUGE), 1, f"no incident #{HUGE}", id="incidents-show"),
        pytest.param(("incidents", "ack", HUGE), 1, f"no incident #{HUGE}", id="incidents-ack"),
        pytest.param(("incidents", "resolve", "-" + HUGE), 1, f"no incident #-{HUGE}",
                     id="incidents-resolve"),
    ],
)  # fmt: skip
def test_absurd_arguments_are_clear_errors(
    watchd_cmd: list[str], cfg: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    """Each absurd argument exits with the documented code and a one-line reason; nothing is stored."""
    out = run(watchd_cmd, cfg, *args)
    assert "Traceback" not in out.stderr, out.stderr
    assert (out.returncode, message in out.stderr) == (code, True), out.stderr
    assert stored(cfg) == 0


@pytest.mark.parametrize(
    "ends",
    [pytest.param(1e300, id="1e300"), pytest.param(float("inf"), id="inf"), pytest.param(8.64e24, id="1e24")],
)
def test_downtime_list_renders_rows_an_older_version_stored(
    watchd_cmd: list[str], cfg: Path, ends: float
) -> None:
    """`downtime list` shows a stored downtime with an absurd end as ending in 9999, in text and JSON."""
    store = Store(config.load(str(cfg)).db_path)
    now = time.time()
    with store.transaction() as db:
        db.execute(
            "INSERT INTO downtimes (scope, target, starts_at, ends_at, comment, created_by, announce,"
            " created_at) VALUES ('host', '', ?, ?, 'old', 'ops', 0, ?)",
            (now, ends, now),
        )
    store.close()
    text = run(watchd_cmd, cfg, "downtime", "list")
    assert (text.returncode, text.stderr) == (0, "")
    assert " - 9999-12-31 00:00 UTC  host" in text.stdout
    listed = run(watchd_cmd, cfg, "downtime", "list", "--json")
    assert listed.returncode == 0
    [row] = json.loads(listed.stdout)  # strict JSON: no Infinity
    assert row["ends_at"] == 253402214400.0
