"""`watchd silence` and `watchd downtime` as a user runs them: clear errors, rows in the store."""

from __future__ import annotations

import json
import sqlite3
import subprocess
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


def rows(cfg: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(cfg.parent / "data" / "watchd.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_silence(watchd_cmd: list[str], cfg: Path) -> None:
    """A silence on a configured check is stored; unknown checks and bad durations are refused clearly."""
    bad = run(watchd_cmd, cfg, "silence", "web", "--for", "soon")
    assert bad.returncode == 2
    assert "argument --for: expected a duration like 30s, 5m or 1h, not 'soon'" in bad.stderr
    unknown = run(watchd_cmd, cfg, "silence", "nosuch", "--for", "1h")
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "unknown check 'nosuch' (configured: web)")
    ok = run(watchd_cmd, cfg, "silence", "web", "--for", "2h", "--comment", "deploy", "--by", "alice")
    assert ok.returncode == 0
    assert ok.stdout.startswith("silence #1 on web until ")
    [(check, span, by, comment)] = rows(
        cfg, "SELECT check_name, ends_at - starts_at, created_by, comment FROM silences"
    )
    assert (check, round(span), by, comment) == ("web", 7200, "alice", "deploy")
    # A check that is not configured but has a status (a fleet peer) can be silenced too.
    from watchd.core.model import CheckStatus

    store = Store(config.load(str(cfg)).db_path)
    store.save([CheckStatus("fleet.db01")])
    store.close()
    assert run(watchd_cmd, cfg, "silence", "fleet.db01", "--for", "1h").returncode == 0
    assert run(watchd_cmd, cfg, "silence", "web", "--remove", "1").returncode == 0
    assert run(watchd_cmd, cfg, "silence", "web", "--remove", "1").returncode == 1  # already ended


def test_downtime_add_list_remove(watchd_cmd: list[str], cfg: Path) -> None:
    """Downtimes need an explicit UTC offset; list shows them; remove cancels them once."""
    naive = run(watchd_cmd, cfg, "downtime", "add", "--start", "2099-01-01T00:00", "--for", "2h")
    assert naive.returncode != 0
    assert "give a UTC offset" in naive.stderr
    no_tag = run(watchd_cmd, cfg, "downtime", "add", "--start", "now", "--for", "2h", "--tag", "db")
    assert (no_tag.returncode, no_tag.stderr.strip()) == (1, "no check has the tag 'db'")
    added = run(watchd_cmd, cfg, "downtime", "add", "--start", "2099-01-01T00:00+01:00", "--for", "2h",
                "--tag", "web", "--announce", "--comment", "kernel")  # fmt: skip
    assert added.returncode == 0
    assert added.stdout.strip() == "downtime #1 from 2098-12-31 23:00 UTC to 2099-01-01 01:00 UTC"
    listed = json.loads(run(watchd_cmd, cfg, "downtime", "list", "--json").stdout)
    assert [(d["scope"], d["target"], d["announce"], d["comment"]) for d in listed] == [
        ("tag", "web", 1, "kernel")
    ]
    assert run(watchd_cmd, cfg, "downtime", "remove", "1").returncode == 0
    assert run(watchd_cmd, cfg, "downtime", "remove", "1").returncode == 1
    assert json.loads(run(watchd_cmd, cfg, "downtime", "list", "--json").stdout) == []
