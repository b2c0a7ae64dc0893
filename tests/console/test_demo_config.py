"""The shipped demo fleet (config/fleet-demo, run by scripts/console-demo) is valid as shipped."""

from __future__ import annotations

import shutil
from pathlib import Path

from watchd import config
from watchd.console import config as console_config

from .fleetkit import operator_hash

DEMO = Path(__file__).resolve().parents[2] / "config" / "fleet-demo"


def test_demo_fleet_configs_load(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    shutil.copytree(DEMO, work)
    (work / "command.key").write_text("demo-secret")  # what scripts/console-demo makes
    (work / "demo.hash").write_text(operator_hash())
    hosts = {config.load(str(work / f"{h}.yaml")).host for h in ("web-1", "db-1")}
    console = console_config.load(str(work / "console.yaml"))
    assert hosts == {"web-1", "db-1"}
    owned = {c.id: [h for h in sorted(hosts) if c.owns(h)] for c in console.customers.values()}
    assert owned == {"acme": ["web-1"], "beta": ["db-1"]}
    assert console.mqtt.port == 18830
    assert console.mqtt.command_secret_file == str(work / "command.key")
