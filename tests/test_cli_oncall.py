"""`watchd oncall` as a user runs it: who is on duty, until when, who is next, gaps, --json, exit codes."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from watchd.cli import oncall as cli_oncall
from watchd.cli.main import main

CONFIG = """\
timezone: Europe/Berlin
data_dir: data
api: {enabled: false}
contacts:
  alice: {email: [alice@example.com], name: Alice Example}
  bob: {email: [bob@example.com]}
  carol: {email: [carol@example.com]}
  dave: {email: [dave@example.com]}
oncall:
  rotations:
    primary:
      layers:
        - {name: weekly, members: [alice, bob, carol], length: weekly, handoff: "09:00", start: 2026-11-30}
      overrides:
        - {member: dave, start: "2026-12-24 18:00", end: "2026-12-27 09:00"}
    nights:
      layers:
        - name: night
          members: [bob, carol]
          length: daily
          handoff: "18:00"
          start: 2026-11-30
          restrict: [{days: mon-fri, start: "18:00", end: "08:00"}]
    solo:
      layers:
        - {members: [dave], length: weekly, start: "2026-11-30 09:00"}
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "watchd.yaml"
    path.write_text(CONFIG)
    return path


def run(watchd_cmd: list[str], cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*watchd_cmd, "oncall", *args, "--config", str(cfg)], capture_output=True, text=True, timeout=30
    )


def test_who_is_on_duty_and_next(watchd_cmd: list[str], cfg: Path) -> None:
    """Christmas Eve: dave's override in primary, bob's night with the daytime gap after it, and a
    one-member rotation that never hands off."""
    out = run(watchd_cmd, cfg, "--at", "2026-12-24T20:00+01:00")
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout.splitlines() == [
        "on call at 2026-12-24 20:00 CET (times in Europe/Berlin)",
        "primary:",
        "  dave [override] since 2026-12-24 18:00 CET until 2026-12-27 09:00 CET",
        "  next: alice (Alice Example) [weekly] from 2026-12-27 09:00 CET until 2026-12-28 09:00 CET",
        "nights:",
        "  bob [night] since 2026-12-24 18:00 CET until 2026-12-25 08:00 CET",
        "  then nobody from 2026-12-25 08:00 CET until 2026-12-25 18:00 CET",
        "  next: carol [night] from 2026-12-25 18:00 CET until 2026-12-26 08:00 CET",
        "solo:",
        "  dave [layer1] since 2026-11-30 09:00 CET until further notice",
    ]


def test_nobody_on_duty_and_one_rotation(watchd_cmd: list[str], cfg: Path) -> None:
    """Friday 10:00 nights has nobody until 18:00; the weekend is a gap too."""
    out = run(watchd_cmd, cfg, "--at", "2026-12-04T09:00Z", "--rotation", "nights")
    assert out.returncode == 0
    assert out.stdout.splitlines()[1:] == [
        "nights:",
        "  nobody on duty until 2026-12-04 18:00 CET",
        "  next: bob [night] from 2026-12-04 18:00 CET until 2026-12-05 08:00 CET",
    ]


def test_json(watchd_cmd: list[str], cfg: Path) -> None:
    out = run(watchd_cmd, cfg, "--at", "2026-12-01T10:00+01:00", "--json")
    assert out.returncode == 0
    doc = json.loads(out.stdout)
    assert doc["at"] == "2026-12-01T09:00:00Z"
    assert doc["rotations"] == [
        {
            "rotation": "primary",
            "on_duty": {"member": "alice", "layer": "weekly", "start": "2026-11-30T08:00:00Z",
                        "end": "2026-12-07T08:00:00Z"},
            "next": {"member": "bob", "layer": "weekly", "start": "2026-12-07T08:00:00Z",
                     "end": "2026-12-14T08:00:00Z"},
        },
        {
            "rotation": "nights",
            "on_duty": None,
            "next": {"member": "carol", "layer": "night", "start": "2026-12-01T17:00:00Z",
                     "end": "2026-12-02T07:00:00Z"},
        },
        {
            "rotation": "solo",
            "on_duty": {"member": "dave", "layer": "layer1", "start": "2026-11-30T08:00:00Z", "end": None},
            "next": None,
        },
    ]  # fmt: skip


def test_errors(watchd_cmd: list[str], cfg: Path, tmp_path: Path) -> None:
    unknown = run(watchd_cmd, cfg, "--rotation", "tertiary")
    assert (unknown.returncode, unknown.stderr.strip()) == (
        1, "no rotation 'tertiary' (configured: primary, nights, solo)"
    )  # fmt: skip
    naive = run(watchd_cmd, cfg, "--at", "2026-12-01T10:00")
    assert naive.returncode == 2
    assert "argument --at: give a UTC offset or Z" in naive.stderr
    empty = tmp_path / "empty" / "watchd.yaml"
    empty.parent.mkdir()
    empty.write_text("data_dir: data\n")
    none = run(watchd_cmd, empty, "--json")
    assert (none.returncode, none.stdout) == (1, "")
    assert none.stderr.strip() == f"no on-call rotations configured (oncall.rotations in {empty})"
    bad = tmp_path / "bad" / "watchd.yaml"
    bad.parent.mkdir()
    bad.write_text("oncall: {rotations: {r: {layers: []}}}\n")
    invalid = run(watchd_cmd, bad)
    assert invalid.returncode == 1
    assert "oncall.rotations.r.layers: a rotation needs a layer" in invalid.stderr


def test_now_is_the_clock(
    cfg: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --at (or with --at now) the answer is for the current time: a hand-off passes between
    two runs with the clock moved across it."""
    monday = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC).timestamp()  # 09:00 CET, bob's hand-off
    monkeypatch.setattr(cli_oncall, "_now", lambda: monday - 1)
    assert main(["oncall", "--config", str(cfg), "--rotation", "primary", "--json"]) == 0
    before = json.loads(capsys.readouterr().out)["rotations"][0]
    monkeypatch.setattr(cli_oncall, "_now", lambda: monday)
    assert main(["oncall", "--config", str(cfg), "--rotation", "primary", "--at", "now", "--json"]) == 0
    after = json.loads(capsys.readouterr().out)["rotations"][0]
    assert (before["on_duty"]["member"], before["next"]["member"]) == ("alice", "bob")
    assert (after["on_duty"]["member"], after["on_duty"]["start"]) == ("bob", "2026-12-07T08:00:00Z")
