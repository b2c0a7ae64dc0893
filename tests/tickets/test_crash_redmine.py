"""kill -9 around create and resolve with a real Redmine 5 beside the builtin store (the pattern of
tests/test_crash_rt.py): afterwards each incident has exactly one Redmine issue, Resolved, with one
resolve journal, and one builtin ticket.

`watchd run` is a subprocess; Redmine (tests/servers/redmine.py, one instance for this module) is
reached through the TCP proxy of test_crash_rt, which can refuse connections to play a Redmine that
is down. As there, the `window` cases let the builtin row through while Redmine is down and arm the
fault only for the run in which Redmine comes back, so the crash lands after Redmine accepted the
intent and before the outbox marked it done.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from servers.redmine import RedmineServer, RedmineUnavailable, ensure_installed, start_redmine
from test_crash_rt import RT_WINDOW_POINTS, Proxy, RTHost, host_name, kill_9, settled, start, stop, wait_for

pytestmark = pytest.mark.slow

OPEN_POINTS = ["persist.after_commit", "outbox.before_deliver.open", "outbox.after_deliver.open"]
RESOLVE_POINTS = ["outbox.before_deliver.resolve", "outbox.after_deliver.resolve"]
CASES = [pytest.param(p, "builtin-first", id=p) for p in OPEN_POINTS + RESOLVE_POINTS] + [
    pytest.param(p, "window", id=f"{p}-redmine-window") for p in RT_WINDOW_POINTS
]
CHANNEL = "ticket:helpdesk"


@pytest.fixture(scope="module")
def redmine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedmineServer]:
    try:
        ensure_installed()
    except RedmineUnavailable as exc:
        pytest.skip(f"Redmine could not be installed: {exc}")
    with start_redmine(tmp_path_factory.mktemp("redmine-crash")) as server:
        yield server


@pytest.fixture
def proxy(redmine: RedmineServer) -> Iterator[Proxy]:
    p = Proxy(redmine.url)
    p.up()
    yield p
    p.close()


class RedmineHost(RTHost):
    """RTHost's monitored host, its ticket backend Redmine (through the proxy) instead of RT."""

    def __init__(self, root: Path, name: str, rm: RedmineServer, proxy: Proxy) -> None:
        placeholder = SimpleNamespace(username="x", password_file="x")  # the RT line is replaced below
        super().__init__(root, name, placeholder, proxy)  # type: ignore[arg-type]
        text = self.cfg.read_text()
        start = text.index("    helpdesk:")
        end = text.index("\n", start)
        self.cfg.write_text(
            text[:start]
            + f"    helpdesk: {{type: redmine, url: '{proxy.url}', project: hosting,"
            f" api_key_file: {rm.api_key_file},"
            f" key_field_id: {rm.key_field_id}, last_op_field_id: {rm.last_op_field_id}, timeout: 5}}"
            + text[end:]
        )


def assert_one_resolved_issue(host: RedmineHost, rm: RedmineServer) -> None:
    assert host.query("SELECT status, count(*) FROM outbox GROUP BY status") == [("done", 4)]
    assert host.builtin() == ("resolved",)
    issues = rm.issues(host.key())
    assert len(issues) == 1, f"Redmine issues for {host.key()}: {[i['id'] for i in issues]}"
    [issue] = issues
    assert issue["status"]["name"] == "Resolved"
    journals = rm.journals(issue["id"])
    assert len(journals) == 1, journals  # the resolve: one note with the status change
    assert [d["name"] for d in journals[0]["details"] if d["property"] == "attr"] == ["status_id"]
    assert host.query("SELECT ref FROM ticket_refs WHERE channel = ?", CHANNEL) == [(str(issue["id"]),)]


@pytest.mark.parametrize(("point", "via"), CASES)
def test_kill_9_leaves_exactly_one_redmine_issue(
    redmine: RedmineServer, proxy: Proxy, tmp_path: Path, watchd_cmd: list[str], point: str, via: str
) -> None:
    """kill -9 at `point`, restart, CRITICAL -> OK: one incident, one Redmine issue and one builtin
    ticket, both resolved, the issue with exactly one resolve journal."""
    host = RedmineHost(tmp_path, host_name(point, "rm-" + via), redmine, proxy)
    host.set(2)
    proc: subprocess.Popen[bytes] | None = None
    try:
        if via == "builtin-first":
            proc = start(host, watchd_cmd, point)
            if point in RESOLVE_POINTS:
                wait_for(settled(host, ("open",)), "both tickets opened", timeout=40)
                host.set(0)
            assert proc.wait(timeout=40) == -9, "the fault point was not reached"
        elif point == "outbox.after_deliver.open":
            proxy.down()
            proc = start(host, watchd_cmd, None)
            wait_for(lambda: host.rows(CHANNEL) and host.rows(CHANNEL)[0][2] > 0, "Redmine refused")
            kill_9(proc)
            proxy.up()
            proc = start(host, watchd_cmd, point)
            assert proc.wait(timeout=40) == -9, "the fault point was not reached"
            assert len(redmine.issues(host.key())) == 1  # Redmine has it, the outbox does not know
            assert host.rows(CHANNEL)[0][:2] == ("open", "pending")
        else:
            proc = start(host, watchd_cmd, None)
            wait_for(settled(host, ("open",)), "both tickets opened", timeout=40)
            proxy.down()
            host.set(0)
            wait_for(lambda: len(host.rows(CHANNEL)) == 2 and host.rows(CHANNEL)[1][2] > 0, "Redmine refused")
            kill_9(proc)
            proxy.up()
            proc = start(host, watchd_cmd, point)
            assert proc.wait(timeout=40) == -9, "the fault point was not reached"
            assert [i["status"]["name"] for i in redmine.issues(host.key())] == ["Resolved"]
            assert host.rows(CHANNEL)[1][:2] == ("resolve", "pending")
        proc = start(host, watchd_cmd, None)
        wait_for(settled(host, ("open",), ("resolved",)), "delivery after restart", timeout=40)
        host.set(0)
        wait_for(settled(host, ("resolved",)), "resolution", timeout=40)
    finally:
        if proc is not None:
            stop(proc)
    assert_one_resolved_issue(host, redmine)
