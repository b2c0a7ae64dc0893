"""Passive results into a real Icinga 2 (tests/servers/icinga2.py), read back through its own API:
basic auth and client certificates, refused objects, wrong credentials, and a watchd whose Icinga
goes down and comes back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from servers import icinga2 as icinga_server
from servers.icinga2 import WATCHD, Icinga2
from watchd import config as config_mod
from watchd.core.model import CheckResult, PerfDatum, State
from watchd.daemon import Daemon
from watchd.delivery.icinga2.forwarder import Icinga2Forwarder
from watchd.delivery.icinga2.settings import Icinga2Settings

pytestmark = pytest.mark.skipif(icinga_server.available() is not None, reason=str(icinga_server.available()))

OBJECTS = """
object Host "web-1" { check_command = "passive"; enable_active_checks = false }
template Service "pushed" { host_name = "web-1"; check_command = "passive"; enable_active_checks = false }
object Service "load" { import "pushed" }
object Service "disk /" { import "pushed" }
object Service "frozen" { import "pushed"; enable_passive_checks = false }
"""


@pytest.fixture
def icinga(tmp_path: Path) -> Iterator[Icinga2]:
    with icinga_server.start_icinga2(tmp_path / "icinga", objects=OBJECTS) as server:
        yield server


async def until(cond: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Wait for another process (Icinga) to get there; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def services(icinga: Icinga2) -> dict[str, dict[str, Any]]:
    return await asyncio.to_thread(icinga.services)


def settings(icinga: Icinga2, **kw: Any) -> Icinga2Settings:
    base: dict[str, Any] = dict(
        url=icinga.url, host="web-1", username=WATCHD[0], password=WATCHD[1], ca_file=str(icinga.pki.ca),
        services={"disk_root": "disk /"}, retry_min=0.05, retry_max=0.3,
    )  # fmt: skip
    return Icinga2Settings(**{**base, **kw})


async def test_results_arrive_as_passive_check_results(icinga: Icinga2) -> None:
    """Two results are stored as Icinga's last check results, state, output, perfdata and times as sent;
    unknown and passive-off objects are refused, counted and not retried."""
    fwd = Icinga2Forwarder(settings(icinga), "box")
    await fwd.start()
    started = time.time() - 2
    try:
        with capture_logs() as logs:
            perf = (PerfDatum("load1", 5.2, "", "~:5", "~:10", 0.0),)
            fwd.forward(CheckResult(
                "load", State.WARNING, "LOAD WARNING - load1 5.2", long_output="per core 2.6",
                perfdata=perf, started_at=started, duration_s=0.5,
            ))  # fmt: skip
            fwd.forward(CheckResult("disk_root", State.OK, "DISK OK - / 24%", started_at=started))
            fwd.forward(CheckResult("nosuch", State.OK, "x"))
            fwd.forward(CheckResult("frozen", State.OK, "x"))
            fwd.forward(CheckResult("nosuch", State.OK, "again"))
            await until(lambda: fwd.sent + fwd.rejected == 5, "five answers")
        assert (fwd.sent, fwd.rejected, len(fwd.backlog), fwd.reachable) == (2, 3, 0, True)
        refused = [e for e in logs if e["event"] == "icinga2 refused a result; dropped"]
        assert [e["object"] for e in refused] == ["Service web-1!nosuch", "Service web-1!frozen"]  # once each
        assert "Passive checks are disabled" in refused[1]["why"]
        got = await services(icinga)
        load = got["web-1!load"]["last_check_result"]
        assert got["web-1!load"]["state"] == 1
        assert load["output"] == "LOAD WARNING - load1 5.2\nper core 2.6"
        assert load["performance_data"] == ["load1=5.2;~:5;~:10;0"]
        assert load["check_source"] == "box"
        assert load["execution_start"] == pytest.approx(started)
        assert load["execution_end"] == pytest.approx(started + 0.5)
        assert got["web-1!disk /"]["state"] == 0
        assert got["web-1!disk /"]["last_check_result"]["output"] == "DISK OK - / 24%"
    finally:
        await fwd.stop()


async def test_client_certificate_auth(icinga: Icinga2) -> None:
    """An ApiUser with client_cn: watchd authenticates with its certificate, no password."""
    s = settings(icinga, username=None, password=None, cert_file=str(icinga.pki.client_cert),
                 key_file=str(icinga.pki.client_key))  # fmt: skip
    fwd = Icinga2Forwarder(s, "box")
    await fwd.start()
    try:
        now = time.time()
        fwd.forward(CheckResult("load", State.CRITICAL, "LOAD CRITICAL - by certificate", started_at=now))
        await until(lambda: fwd.sent == 1, "the result to be accepted")
        got = await services(icinga)
        assert got["web-1!load"]["state"] == 2
        assert got["web-1!load"]["last_check_result"]["output"] == "LOAD CRITICAL - by certificate"
    finally:
        await fwd.stop()


async def test_wrong_password_keeps_results_queued(icinga: Icinga2) -> None:
    """Refused credentials are an outage, not a bad result: the result stays queued, one log line says why."""
    fwd = Icinga2Forwarder(settings(icinga, password="wrong"), "box")
    await fwd.start()
    try:
        with capture_logs() as logs:
            fwd.forward(CheckResult("load", State.OK, "LOAD OK"))
            await until(lambda: fwd.reachable is False, "the forwarder to give up for now")
            await until(lambda: len(fwd.backlog) == 1, "the result back in the backlog")
        assert fwd.sent == 0
        assert fwd.rejected == 0
        down = [e for e in logs if e["event"] == "icinga2 unreachable; results are queued and retried"]
        assert len(down) == 1
        assert "HTTP 401" in down[0]["error"]
    finally:
        await fwd.stop(grace=0)


class Host:
    """A watchd config dir with two plugin checks whose exit code and words the test sets."""

    def __init__(self, root: Path, icinga: Icinga2) -> None:
        self.root = root
        for name in ("load", "disk_root"):
            plugin = root / f"check_{name}"
            plugin.write_text(f'#!/bin/sh\nread c w < {root / name}\necho "{name} $w | v=$c;1;2"\nexit $c\n')
            plugin.chmod(0o755)
            self.set(name, 0, "fine")
        (root / "icinga.pass").write_text(WATCHD[1] + "\n")
        self.path = root / "watchd.yaml"
        self.path.write_text(f"""
host: box
data_dir: {root / "data"}
api: {{enabled: false}}
defaults: {{interval: 1h, retry_interval: 1h}}
checks:
  load: {{command: [{root / "check_load"}]}}
  disk_root: {{command: [{root / "check_disk_root"}]}}
icinga2:
  url: {icinga.url}
  host: web-1
  username: {WATCHD[0]}
  password_file: icinga.pass
  ca_file: {icinga.pki.ca}
  services: {{disk_root: disk /}}
  retry: {{min: 50ms, max: 300ms}}
""")

    def set(self, name: str, code: int, words: str) -> None:
        (self.root / name).write_text(f"{code} {words}\n")

    def daemon(self) -> Daemon:
        return Daemon(config_mod.load(str(self.path)), str(self.path))


async def test_watchd_beside_icinga_survives_its_outage(tmp_path: Path, icinga: Icinga2) -> None:
    """A watchd with two checks pushes their results; while Icinga is down the checks go on and the
    results queue; when it is back they arrive, in order, and the log says both transitions."""
    (tmp_path / "watchd").mkdir()
    host = Host(tmp_path / "watchd", icinga)
    d = host.daemon()
    await d.start()
    try:
        fwd = d.icinga2
        assert fwd is not None
        await d.run_check("load")
        await d.run_check("disk_root")
        await until(lambda: fwd.sent == 2, "the first two results")
        got = await services(icinga)
        assert got["web-1!load"]["last_check_result"]["output"] == "load fine"
        assert got["web-1!disk /"]["last_check_result"]["check_source"] == "box"

        await asyncio.to_thread(icinga.stop)
        with capture_logs() as logs:
            host.set("load", 2, "overloaded")
            host.set("disk_root", 1, "filling")
            await d.run_check("load")  # the pipeline does not wait for Icinga
            await d.run_check("disk_root")
            await until(lambda: fwd.reachable is False, "the forwarder to notice the outage")
            assert d.parts is not None
            assert d.parts.state.statuses["load"].state is State.CRITICAL
            await asyncio.to_thread(icinga.start)
            await until(lambda: fwd.sent == 4, "the queued results after Icinga's restart")
        events = [e["event"] for e in logs if e["event"].startswith("icinga2")]
        assert events[0] == "icinga2 unreachable; results are queued and retried"
        assert events[-1] == "icinga2 reachable again"
        assert fwd.backlog.dropped == 0
        got = await services(icinga)
        assert (got["web-1!load"]["state"], got["web-1!load"]["last_check_result"]["output"]) == (
            2, "load overloaded",
        )  # fmt: skip
        assert got["web-1!disk /"]["state"] == 1
    finally:
        await d.stop()


async def test_reload_adds_and_removes_forwarding(tmp_path: Path, icinga: Icinga2) -> None:
    """A reload without the section stops forwarding; one with it starts a new forwarder."""
    (tmp_path / "watchd").mkdir()
    host = Host(tmp_path / "watchd", icinga)
    d = host.daemon()
    await d.start()
    try:
        first = d.icinga2
        text = host.path.read_text()
        host.path.write_text(text.split("icinga2:")[0])
        assert await d.reload() == []
        assert d.icinga2 is None
        await d.run_check("load")  # nothing to forward to: no error
        host.path.write_text(text.replace("services: {disk_root: disk /}", "checks: [disk_*]\n  "
                                          "services: {disk_root: disk /}"))  # fmt: skip
        assert await d.reload() == []
        second = d.icinga2
        assert second is not None
        assert second is not first
        await d.run_check("load")  # not forwarded any more (checks: [disk_*])
        await d.run_check("disk_root")
        await until(lambda: second.sent == 1, "the disk result")
        assert len(second.backlog) == 0
    finally:
        await d.stop()
