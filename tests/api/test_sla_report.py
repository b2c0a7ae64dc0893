"""SLA reports from a real store with a literal history, and `watchd sla report` in every format."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from watchd.cli import sla as cli_sla
from watchd.config.api import ApiConfig, ServiceConfig
from watchd.core.priority import PriorityPolicy
from watchd.reports import availability as av
from watchd.store import Store

MIN = 60.0
HOUR = 3600.0
DAY = 86400.0


def t(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


START, END = t("2026-11-01 00:00"), t("2026-12-01 00:00")
NOW = t("2026-12-02 00:00")


class FakeCheck:
    def __init__(self, tags: tuple[str, ...] = (), description: str = "") -> None:
        self.tags, self.description, self.enabled = tags, description, True


CHECKS = {"web": FakeCheck(("frontend",), "Web server"), "db": FakeCheck(("backend",))}
SHOP = ServiceConfig("shop", "Web shop", ("web", "db"), 99.9)


def history(db_path: str) -> None:
    """November 2026 of host web01, all times UTC."""
    store = Store(db_path)
    db = store.db
    runs = [
        ("2026-10-31 00:00", "2026-11-10 00:00", "2026-11-10 00:00"),  # stopped cleanly
        ("2026-11-10 06:00", "2026-11-20 00:00", None),  # killed: last_seen is all we know
        ("2026-11-20 00:10", "2026-12-01 12:00", None),  # still running
    ]
    for a, seen, stopped in runs:
        db.execute(
            "INSERT INTO daemon_runs (started_at, last_seen, stopped_at) VALUES (?,?,?)",
            (t(a), t(seen), t(stopped) if stopped else None),
        )
    log = [
        ("web", "2026-10-31 23:00", 2, "HARD"),  # crosses the period start
        ("web", "2026-11-01 00:30", 0, "HARD"),
        ("web", "2026-11-05 10:00", 2, "SOFT"),  # soft problems are not down
        ("web", "2026-11-05 10:02", 2, "HARD"),
        ("web", "2026-11-05 10:12", 0, "HARD"),
        ("db", "2026-11-05 10:05", 2, "HARD"),  # overlaps web's outage
        ("db", "2026-11-05 10:20", 0, "HARD"),  # 10:15-11:00 is db's own maintenance
        ("db", "2026-11-10 01:00", 2, "HARD"),  # during the daemon gap: unknown, not down
        ("db", "2026-11-10 03:00", 0, "HARD"),
        ("web", "2026-11-30 23:50", 3, "HARD"),  # UNKNOWN counts as down; crosses the end
        ("web", "2026-12-01 00:20", 0, "HARD"),
    ]
    for check, at, state, kind in log:
        db.execute(
            "INSERT INTO state_log (check_name, at, kind, previous, state, state_type, attempt, summary)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (check, t(at), "x", 0, state, kind, 1, "s"),
        )
    downtimes = [
        ("check", "db", "2026-11-05 10:15", "2026-11-05 11:00", None),
        ("host", "web01", "2026-11-25 02:00", "2026-11-25 04:00", None),
        ("tag", "frontend", "2026-11-26 02:00", "2026-11-26 04:00", "2026-11-20 00:00"),  # cancelled
        ("tag", "frontend", "2026-11-27 02:00", "2026-11-27 06:00", "2026-11-27 03:00"),  # cut short
    ]
    for scope, target, a, b, removed in downtimes:
        db.execute(
            "INSERT INTO downtimes (scope, target, starts_at, ends_at, comment, created_by, announce,"
            " created_at, removed_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (scope, target, t(a), t(b), "", "ops", 0, 0, t(removed) if removed else None),
        )
    incidents = [
        (1, "db", "P1", "2026-10-30 10:00", "2026-10-30 10:10", "2026-11-01 08:00", None),  # ends in Nov
        (2, "web", "P2", "2026-11-05 10:02", None, "2026-11-05 10:12", None),  # recovered on its own
        (3, "db", "P1", "2026-11-05 10:05", "2026-11-05 10:50", "2026-11-05 11:30", "2026-11-05 10:35"),
        (4, "web", "P1", "2026-12-01 00:00", None, None, None),  # after the period
    ]
    for iid, check, prio, opened, acked, resolved, breached in incidents:
        db.execute(
            "INSERT INTO incidents (id, host, check_name, status, priority, impact, urgency, state, summary,"
            " opened_at, updated_at, acked_at, resolved_at, flapping, reopened, response_breached_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (iid, "web01", check, "resolved" if resolved else "open", prio, "high", "high", 2, "down",
             t(opened), t(opened), t(acked) if acked else None, t(resolved) if resolved else None, 0, 0,
             t(breached) if breached else None),
        )  # fmt: skip
    store.close()


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    path = str(tmp_path / "data" / "watchd.db")
    history(path)
    return path


def report(db_path: str, services: list[ServiceConfig] | None = None) -> av.Report:
    store = Store(db_path)
    try:
        api = ApiConfig(timezone="UTC", services={"shop": SHOP})
        return av.build_report(store.db, api, CHECKS, PriorityPolicy(), START, END, NOW, "2026-11", services)
    finally:
        store.close()


def test_monitored_time_from_daemon_runs(db_path: str) -> None:
    """Runs become monitored intervals; a killed run ends at its last_seen; live extends the newest."""
    store = Store(db_path)
    assert av.monitored(store.db, START, END, NOW) == [
        (t("2026-10-31 00:00"), t("2026-11-10 00:00")),
        (t("2026-11-10 06:00"), t("2026-11-20 00:00")),
        (t("2026-11-20 00:10"), t("2026-12-01 12:00")),
    ]
    live = av.monitored(store.db, START, END, NOW, live=True)
    assert live[1] == (t("2026-11-10 06:00"), t("2026-11-20 00:00"))  # the killed run stays as it was
    assert live[2] == (t("2026-11-20 00:10"), NOW)  # the current run (started last) reaches now


def test_maintenance_coverage(db_path: str) -> None:
    """Downtimes by check, host and tag; cancelled ones vanish, cut ones end when removed."""
    store = Store(db_path)
    cov = av.Coverage.load(store.db, START, END)
    assert cov.excluded("db", ("backend",)) == [
        (t("2026-11-05 10:15"), t("2026-11-05 11:00")),
        (t("2026-11-25 02:00"), t("2026-11-25 04:00")),
    ]
    assert cov.excluded("web", ("frontend",)) == [
        (t("2026-11-25 02:00"), t("2026-11-25 04:00")),
        (t("2026-11-27 02:00"), t("2026-11-27 03:00")),
    ]


def test_recurring_windows_from_a_callable(db_path: str) -> None:
    """Extra windows (recurring, from the config) come as tuples and count like downtimes."""
    store = Store(db_path)

    def windows(a: float, b: float) -> list[tuple[float, float, str, str]]:
        return [(t("2026-11-08 00:00"), t("2026-11-08 06:00"), "check", "web")]

    cov = av.Coverage.load(store.db, START, END, windows)
    assert (t("2026-11-08 00:00"), t("2026-11-08 06:00")) in cov.excluded("web", ())
    assert (t("2026-11-08 00:00"), t("2026-11-08 06:00")) not in cov.excluded("db", ())


def test_service_report_figures(db_path: str) -> None:
    """The shop's November: every rule of the accounting at once, figure by figure."""
    [shop] = report(db_path).services
    a = shop.availability
    # down: 00:00-00:30 (boundary) + 10:02-10:15 (web and db overlap; db's maintenance from 10:15)
    #       + 23:50-24:00 (UNKNOWN, crosses the end); db's outage during the daemon gap is unknown
    assert a.down_s == (30 + 13 + 10) * MIN
    assert a.unknown_s == 6 * HOUR + 10 * MIN
    assert a.excluded_s == 2 * HOUR  # only the host window covers both members
    assert a.agreed_s == 30 * DAY - 2 * HOUR
    assert a.up_s == 30 * DAY - a.down_s - a.unknown_s - a.excluded_s
    assert a.allowed_down_s(99.9) == pytest.approx((30 * DAY - 2 * HOUR) * 0.001)
    assert a.met(99.9) is False  # 53 minutes down > 43.1 allowed
    web = shop.checks["web"]
    assert web.down_s == (30 + 10 + 10) * MIN
    assert web.excluded_s == 3 * HOUR  # host window + the cut-short tag window
    db = shop.checks["db"]
    assert db.down_s == 10 * MIN  # 10:05-10:15; the gap outage is unknown
    assert db.excluded_s == 2 * HOUR + 45 * MIN


def test_report_incidents_and_targets(db_path: str) -> None:
    """Incidents open during the period, with response and resolution against P1/P2 targets."""
    [shop] = report(db_path).services
    got = [(i.times.id, i.response.status.value, i.resolution.status.value) for i in shop.incidents]
    assert got == [
        (1, "met", "breached"),  # P1: acked in 10 min, resolved after 46 h
        (2, "met", "met"),  # P2 recovered in 10 min before anyone acked
        (3, "breached", "met"),  # acked after 45 min (the escalation recorded the breach at 10:35)
    ]
    assert shop.incidents[1].response.clock == "business"


def test_report_json_document(db_path: str) -> None:
    """The JSON form carries the figures in minutes and percent, and ISO times."""
    doc = av.report_dict(report(db_path))
    assert doc["period"] == {
        "label": "2026-11", "start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z",
        "timezone": "UTC", "complete": True,
    }  # fmt: skip
    [s] = doc["services"]
    assert (s["downtime_minutes"], s["unknown_minutes"], s["maintenance_minutes"]) == (53.0, 370.0, 120.0)
    assert s["allowed_downtime_minutes"] == pytest.approx(43.08)
    assert s["error_budget_left_minutes"] == pytest.approx(-9.92)
    assert s["met"] is False
    assert s["outages"][0] == {
        "start": "2026-11-01T00:00:00Z",
        "end": "2026-11-01T00:30:00Z",
        "minutes": 30.0,
    }
    assert set(s["check_availability"]) == {"web", "db"}
    assert s["incidents"][2]["response"] == {
        "status": "breached", "minutes": 45.0, "target_minutes": 30.0, "clock": "24x7",
    }  # fmt: skip


def test_month_period_in_a_time_zone() -> None:
    """Months are local: November in Berlin starts 23:00 UTC; March loses an hour to DST."""
    assert av.month_period("2026-11", "Europe/Berlin") == (t("2026-10-31 23:00"), t("2026-11-30 23:00"))
    a, b = av.month_period("2026-03", "Europe/Berlin")
    assert b - a == 31 * DAY - HOUR
    assert av.month_period("2026-12", "UTC") == (t("2026-12-01 00:00"), t("2027-01-01 00:00"))
    for bad in ("2026-13", "2026", "nov"):
        with pytest.raises(ValueError, match="expected a month like 2026-11"):
            av.month_period(bad, "UTC")


def test_day_starts_follow_local_days() -> None:
    """Status page days are local days; the DST day is 25 hours long."""
    days = av.day_starts(t("2026-10-26 12:00"), 3, "Europe/Berlin")
    assert [d.isoformat() for d, _, _ in days] == ["2026-10-24", "2026-10-25", "2026-10-26"]
    assert [b - a for _, a, b in days] == [DAY, DAY + HOUR, DAY]


# -- the CLI ----------------------------------------------------------------------------------------


def run_cli(cfg: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="watchd")
    sub = parser.add_subparsers()

    def with_config(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", "-c", default=str(cfg))

    cli_sla.add_parser(sub, with_config)
    ns = parser.parse_args(["sla", "report", *args])
    code = ns.func(ns)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cfg(tmp_path: Path, db_path: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(cli_sla, "_now", lambda: NOW)
    path = tmp_path / "watchd.yaml"
    path.write_text(
        f"host: web01\ndata_dir: {tmp_path / 'data'}\ntimezone: Europe/Berlin\n"
        "checks:\n  web: {command: [/bin/true], tags: [frontend]}\n  db: {command: [/bin/true]}\n"
    )
    return path


def test_cli_json_for_one_check_in_berlin_time(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Months are in the display zone (Europe/Berlin here): web's boundary outage is 90 minutes."""
    code, out, _ = run_cli(cfg, "--month", "2026-11", "--check", "web", "--format", "json", capsys=capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["period"]["timezone"] == "Europe/Berlin"
    [web] = doc["services"]
    assert web["outages"][0] == {
        "start": "2026-10-31T23:00:00Z",
        "end": "2026-11-01T00:30:00Z",
        "minutes": 90.0,
    }
    # Berlin's November ends 23:00 UTC: the UNKNOWN at 23:50 UTC is December's
    assert web["downtime_minutes"] == 90.0 + 10.0


def test_cli_every_check_is_a_service_without_services(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No services configured: one section per check."""
    code, out, _ = run_cli(cfg, "--month", "2026-11", "--format", "json", capsys=capsys)
    assert code == 0
    assert [s["name"] for s in json.loads(out)["services"]] == ["db", "web"]


def test_cli_text(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The text report shows availability against target, budget, outages and incidents."""
    code, out, _ = run_cli(cfg, "--month", "2026-11", "--check", "web", capsys=capsys)
    assert code == 0
    assert "SLA report 2026-11: 2026-11-01 00:00 CET - 2026-12-01 00:00 CET (Europe/Berlin), complete" in out
    assert "target 99.9 %   MISSED" in out
    assert "allowed 43.0 min in the whole period" in out  # 99.9 % of 30 days less 3 h of maintenance
    assert "2026-11-01 00:00 CET - 2026-11-01 01:30 CET  90.0 min" in out
    assert "#2 P2 web resolved, opened 2026-11-05 11:02 CET: response 10.0 min / 60.0 min met" in out


def test_cli_csv(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """CSV: one row per service, check and incident, in fixed columns."""
    code, out, _ = run_cli(cfg, "--month", "2026-11", "--check", "web", "--format", "csv", capsys=capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["kind"], r["name"]) for r in rows] == [
        ("service", "web"), ("check", "web"), ("incident", "#2 web"),
    ]  # fmt: skip
    assert rows[0]["downtime_minutes"] == "100.0"
    assert rows[0]["met"] == "False"
    assert (rows[2]["response_status"], rows[2]["response_target_minutes"]) == ("met", "60.0")


def test_cli_html_to_a_file(cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """HTML goes to --output as a standalone page."""
    target = tmp_path / "report.html"
    code, out, _ = run_cli(cfg, "--month", "2026-11", "--format", "html", "-o", str(target), capsys=capsys)
    assert (code, out) == (0, "")
    page = target.read_text()
    assert page.startswith("<!doctype html>")
    assert "<h1>SLA report 2026-11</h1>" in page
    assert "<h2>web</h2>" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--month", "11-2026"], "--month: expected a month like 2026-11", id="month"),
        pytest.param(["--service", "shop"], "no service 'shop' (configured: db, web)", id="service"),
        pytest.param(["--check", "nope"], "no check 'nope'", id="check"),
    ],
)
def test_cli_errors(cfg: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    """Bad arguments: exit 1 with a message on stderr."""
    code, _, err = run_cli(cfg, *args, capsys=capsys)
    assert code == 1
    assert message in err
