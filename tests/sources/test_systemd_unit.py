"""systemd_unit: parsing systemctl output, the state rules, and a fake systemctl on PATH."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest

from watchd.core.model import State
from watchd.nagios.range import Thresholds
from watchd.sources.resources.systemd_unit import (
    SystemdUnitCheck,
    UnitState,
    evaluate_units,
    parse_failed,
    parse_show,
    unit_state,
)

SHOW = """LoadState=loaded
ActiveState=active
SubState=running

LoadState=not-found
ActiveState=inactive
SubState=dead

LoadState=loaded
ActiveState=failed
SubState=failed
"""


def test_parse_show_keeps_unit_order() -> None:
    """One block per unit, in the order they were asked for."""
    units = parse_show(SHOW, ["nginx.service", "nope.service", "cron.service"])
    assert units == [
        UnitState("nginx.service", "loaded", "active", "running"),
        UnitState("nope.service", "not-found", "inactive", "dead"),
        UnitState("cron.service", "loaded", "failed", "failed"),
    ]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        pytest.param("", [], id="none"),
        pytest.param("foo.service loaded failed failed Foo daemon\n", ["foo.service"], id="plain"),
        pytest.param("● bar.mount loaded failed failed /bar\n", ["bar.mount"], id="bullet"),
    ],
)
def test_parse_failed(text: str, names: list[str]) -> None:
    """First column of list-units, with or without the bullet older systemd prints."""
    assert parse_failed(text) == names


@pytest.mark.parametrize(
    ("unit", "state", "words"),
    [
        pytest.param(
            UnitState("a", "loaded", "active", "running"), State.OK, "a active (running)", id="active"
        ),
        pytest.param(
            UnitState("a", "loaded", "activating", "start"), State.WARNING, "a activating", id="starting"
        ),
        pytest.param(
            UnitState("a", "loaded", "failed", "failed"), State.CRITICAL, "a failed (failed)", id="failed"
        ),
        pytest.param(
            UnitState("a", "loaded", "inactive", "dead"), State.CRITICAL, "a inactive (dead)", id="stopped"
        ),
        pytest.param(
            UnitState("a", "not-found", "inactive", "dead"), State.CRITICAL, "a not found", id="missing"
        ),
    ],
)
def test_unit_state(unit: UnitState, state: State, words: str) -> None:
    """Active is OK, transitions WARNING, anything else CRITICAL."""
    got, text = unit_state(unit)
    assert got is state
    assert words in text


def test_failed_units_default_is_critical() -> None:
    """With failed_units, any failed unit is CRITICAL by default (critical range 0)."""
    v = evaluate_units([], ["a.service", "b.timer"], Thresholds(crit="0"))
    assert v.state is State.CRITICAL
    assert "a.service, b.timer" in v.text
    assert [(p.label, p.value) for p in v.perfdata] == [("failed_units", 2)]


async def test_no_systemd_is_unknown(tmp_path: Path) -> None:
    """Without /run/systemd/system the check says systemd is not running, instead of 'not found'."""
    check = SystemdUnitCheck("u", ("nginx.service",), False, Thresholds(), runtime_dir=str(tmp_path / "none"))
    r = await check.run(5.0)
    assert r.state is State.UNKNOWN
    assert "systemd is not running on this host" in r.summary


FAKE = """#!{python}
import sys
args = sys.argv[1:]
assert args[0] == "--no-pager", args
if args[1] == "show":
    for unit in args[args.index("--") + 1:]:
        state = {{"web.service": "active", "db.service": "failed"}}.get(unit)
        load = "loaded" if state else "not-found"
        print(f"LoadState={{load}}\\nActiveState={{state or 'inactive'}}\\nSubState=x\\n")
elif args[1] == "list-units":
    print("db.service loaded failed failed Database")
else:
    sys.exit(4)
"""


@pytest.fixture
def fake_systemctl(tmp_path: Path) -> Path:
    exe = tmp_path / "systemctl"
    exe.write_text(FAKE.format(python=sys.executable))
    exe.chmod(0o755)
    (tmp_path / "run").mkdir()
    return exe


@pytest.mark.parametrize(
    ("units", "failed", "state", "words"),
    [
        pytest.param(("web.service",), False, State.OK, "web.service active", id="active"),
        pytest.param(
            ("web.service", "db.service"), False, State.CRITICAL, "db.service failed", id="one-failed"
        ),
        pytest.param(("ghost.service",), False, State.CRITICAL, "ghost.service not found", id="missing"),
        pytest.param((), True, State.CRITICAL, "1 failed units (critical 0): db.service", id="failed-units"),
    ],
)
async def test_fake_systemctl(
    fake_systemctl: Path, units: tuple[str, ...], failed: bool, state: State, words: str
) -> None:
    """The check runs systemctl without a shell and reads its answers."""
    check = SystemdUnitCheck(
        "u",
        units,
        failed,
        Thresholds(crit="0"),
        systemctl=str(fake_systemctl),
        runtime_dir=str(fake_systemctl.parent / "run"),
    )
    r = await check.run(5.0)
    assert r.state is state, r.summary
    assert words in r.summary


async def test_systemctl_timeout_is_unknown(tmp_path: Path) -> None:
    """A hanging systemctl is killed and reported as UNKNOWN 'timed out'."""
    exe = tmp_path / "systemctl"
    exe.write_text("#!/bin/sh\nexec sleep 30\n")
    exe.chmod(0o755)
    check = SystemdUnitCheck(
        "u", ("a.service",), False, Thresholds(), systemctl=str(exe), runtime_dir=str(tmp_path)
    )
    r = await check.run(0.3)
    assert r.state is State.UNKNOWN
    assert "timed out" in r.summary
    assert not [c for c in psutil.Process().children() if c.name() == "sleep"]  # killed, not left behind
