"""Minutes after the first start (issue 11): the SLA report and the status page, from one real store
at one injected instant, show the same availability for the same window, say which window, and do
not call the month missed on a few bad minutes."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from apihelpers import Env

from watchd.api.statuspage import percent_text
from watchd.cli import locate
from watchd.cli import main as watchd_main
from watchd.cli import sla as cli_sla
from watchd.core.clock import FakeClock


def t(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


STARTED = t("2026-11-20 10:00")  # the daemon's first start
NOW = STARTED + 600.0  # ten minutes later
DOWN_FROM = STARTED + 100.0  # db has been hard CRITICAL since then: 500 of 600 s down


def first_minutes(env: Env) -> None:
    """The store as a daemon leaves it ten minutes after its first start: one open run whose last
    flush was 0.8 s ago, and db hard CRITICAL for the last 500 s."""
    db = env.daemon.store.db
    db.execute("DELETE FROM daemon_runs")
    db.execute("DELETE FROM state_log")
    db.execute(
        "INSERT INTO daemon_runs (started_at, last_seen, stopped_at) VALUES (?,?,NULL)", (STARTED, NOW - 0.8)
    )
    db.execute(
        "INSERT INTO state_log (check_name, at, kind, previous, state, state_type, attempt, summary)"
        " VALUES ('db', ?, 'hard_problem', 0, 2, 'HARD', 1, 'DB code 2')",
        (DOWN_FROM,),
    )
    env.host.write("timezone: UTC\n")  # the CLI's config: the same display zone as the page's
    env.api.api.clock = FakeClock(NOW)


def report(env: Env, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = watchd_main(["sla", "report", "--config", str(env.host.cfg), "--check", "db", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.fixture
def at_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_sla, "_now", lambda: NOW)


async def test_report_and_page_agree_on_the_month_so_far(
    env: Env, capsys: pytest.CaptureFixture[str], at_now: None
) -> None:
    """While the daemon runs, the report's month and the page's month and 24 h are one figure."""
    first_minutes(env)
    with locate.daemon_marker(str(env.host.root / "data"), str(env.host.cfg)):  # as `watchd run` does
        [doc] = json.loads(report(env, capsys, "--format", "json"))["services"]
    page = await env.client.get("/api/v1/services/database")
    month, day = page["availability"]["month"], page["availability"]["24h"]
    assert doc["availability_percent"] == pytest.approx(100 * 100 / 600, abs=1e-4)
    assert month["availability_percent"] == doc["availability_percent"]
    assert day["availability_percent"] == doc["availability_percent"]  # all data is within both
    assert (doc["from"], doc["until"]) == ("2026-11-01T00:00:00Z", "2026-11-20T10:10:00Z")
    assert (month["from"], month["until"]) == (doc["from"], doc["until"])
    assert (doc["measured_minutes"], month["measured_minutes"]) == (10.0, 10.0)
    status, html = await env.client.call("GET", "/status", token=None)
    assert status == 200
    card = html[html.index('id="service-database"') :]
    shown = re.search(r'data-window="month">([^<]*)<', card).group(1)
    assert shown == percent_text(doc["availability_percent"] / 100) == "16.66 %"
    assert "<dt>November 2026 so far</dt>" in card
    assert "over 10.0 min measured" in card
    assert "times are UTC" in html


async def test_a_stopped_daemon_counts_until_its_last_flush(
    env: Env, capsys: pytest.CaptureFixture[str], at_now: None
) -> None:
    """Without a running daemon (no marker held) the run ends at its last_seen, not at now."""
    first_minutes(env)
    [doc] = json.loads(report(env, capsys, "--format", "json"))["services"]
    assert doc["measured_minutes"] == pytest.approx((600 - 0.8) / 60, abs=0.01)
    assert doc["availability_percent"] == pytest.approx(100 * 100 / 599.2, abs=1e-4)


async def test_minutes_of_data_are_at_risk_not_missed(
    env: Env, capsys: pytest.CaptureFixture[str], at_now: None
) -> None:
    """8.3 bad minutes of 43.2 allowed: at risk, with the window and the budget named, never MISSED."""
    first_minutes(env)
    with locate.daemon_marker(str(env.host.root / "data"), str(env.host.cfg)):
        [doc] = json.loads(report(env, capsys, "--format", "json"))["services"]
        text = report(env, capsys)
    assert (doc["verdict"], doc["met"]) == ("at_risk", None)
    assert doc["error_budget_left_minutes"] == pytest.approx(43.2 - 500 / 60, abs=0.01)
    assert "MISSED" not in text
    assert "availability       16.666 %   target 99.9 %   AT RISK   (over 10.0 min measured)" in text
    assert "SLA report 2026-11: 2026-11-01 00:00 UTC - 2026-12-01 00:00 UTC, so far" in text
    assert "from the period's start until now (2026-11-20 10:10 UTC)" in text
    assert "allowed 43.2 min in the whole period   error budget left 34.9 min" in text
