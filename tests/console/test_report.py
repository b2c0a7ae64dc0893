"""The customer SLA report: figures, incidents against their deadlines, no internal or other
customers' names in any customer rendering, escaping, and the command line's exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from watchd.console import report, reportformats
from watchd.console.config import Customer, Service
from watchd.console.reportformats import FORMATS
from watchd.core import sla
from watchd.reports import availability as av

from .recorder import DAY, HOUR, MIN, Recorder

BERLIN = "Europe/Berlin"
NOV_START, NOV_END = av.month_period("2026-11", BERLIN)
AFTER = NOV_END + HOUR
SEEN = NOV_START - 10 * DAY
T = NOV_START + 10 * DAY + 9 * HOUR

# Internal names: distinctive, so a leak cannot hide behind an ordinary word.
WEB, DB, OTHER_HOST, BETA = "acme-web-a17", "acme-db-q9", "acme-mail-x4", "beta-shop-k3"
HTTP, PGSQL, SMTP, CART = "chk_http_zz", "chk_pgsql_zz", "chk_smtp_zz", "chk_cart_zz"
SECRET = "SECRET-SUMMARY"
OPERATOR = "operator-alice-x"

ACME = Customer(
    "acme", "ACME GmbH", ("acme-*",),
    (
        Service("Website", ((WEB, HTTP),)), Service("Database", ((DB, PGSQL),)),
        Service("Search", (("s-*", "*"),)),
    ),
    99.9, BERLIN,
)  # fmt: skip
BETA_CO = Customer("beta", "Beta AG", ("beta-*",), (Service("BetaShop", ((BETA, CART),)),), 99.5, BERLIN)
INTERNAL = (WEB, DB, OTHER_HOST, HTTP, PGSQL, SMTP, SECRET, OPERATOR)
BETA_NAMES = (BETA, CART, "BetaShop", "Beta AG", "beta-secret")


@pytest.fixture
def rec(tmp_path: Path) -> Recorder:
    r = Recorder(tmp_path / "console.db")
    for host, check in ((WEB, HTTP), (DB, PGSQL), (OTHER_HOST, SMTP), (BETA, CART)):
        r.state(host, check, SEEN, "OK")
    r.outage(WEB, HTTP, T, T + 43 * MIN)
    r.outage(DB, PGSQL, T + DAY, T + DAY + 2 * HOUR)
    r.maintenance(DB, T + DAY + HOUR, T + DAY + 3 * HOUR)
    r.outage(BETA, CART, T, T + 5 * HOUR)
    r.incident(
        WEB, 7, HTTP, T + 1 * MIN, summary=f"{SECRET} 10.0.0.5 refused", acked_at=T + 6 * MIN,
        acked_by=OPERATOR, resolved_at=T + 43 * MIN, status="resolved",
        respond_by=T + 16 * MIN, resolve_by=T + 4 * HOUR + MIN,
    )  # fmt: skip
    r.incident(OTHER_HOST, 3, SMTP, T + 2 * DAY, summary=SECRET, respond_by=T + 2 * DAY + 15 * MIN)
    r.incident(WEB, 2, HTTP, NOV_START - 2 * DAY, resolved_at=NOV_START - DAY, status="resolved")  # October
    r.incident(BETA, 1, CART, T, summary="beta-secret", respond_by=T + 600)
    return r


def build(rec: Recorder, internal: bool = False, customer: Customer = ACME) -> report.CustomerReport:
    return report.build(rec.db, customer, "2026-11", AFTER, internal=internal)


def test_figures_per_service_and_verdicts(rec: Recorder) -> None:
    rep = build(rec)
    web, db, search = rep.services
    assert (web.name, db.name, search.name) == ("Website", "Database", "Search")
    assert web.availability.down_s == 43 * MIN
    assert web.availability.verdict(99.9).value == "met"
    assert db.availability.down_s == HOUR  # the second hour was maintenance
    assert db.availability.excluded_s == 2 * HOUR
    assert db.availability.verdict(99.9).value == "missed"
    assert search.availability.availability is None
    doc = reportformats.report_dict(rep)
    s = {x["name"]: x for x in doc["services"]}
    assert s["Website"]["availability_percent"] == 99.9005
    assert s["Website"]["downtime_minutes"] == 43.0
    assert s["Website"]["verdict"] == "met"
    assert s["Website"]["met"] is True
    assert s["Database"]["maintenance_minutes"] == 120.0
    assert s["Database"]["verdict"] == "missed"
    assert s["Search"]["measured"] is False
    assert s["Search"]["verdict"] == "no_data"
    text = FORMATS["text"](rep)
    assert "99.900 %" in text
    assert "Search\n  availability              -   not measured" in text


def test_incidents_of_the_month_with_response_and_resolution(rec: Recorder) -> None:
    rep = build(rec)
    assert [(i.id, i.services) for i in rep.incidents] == [(7, ("Website",)), (3, ())]  # not October's
    web, mail = rep.incidents
    assert web.response.status.value == "met"
    assert web.response.taken_s == 5 * MIN
    assert web.response.target_s == 15 * MIN
    assert web.resolution.status.value == "met"
    assert web.resolution.taken_s == 42 * MIN
    assert mail.status == "open"
    assert mail.response.status.value == "breached"  # never acknowledged, deadline long past
    assert mail.resolution.status.value == "none"
    doc = reportformats.report_dict(rep)["incidents"]
    response = {"status": "met", "minutes": 5.0, "target_minutes": 15.0, "clock": "deadline"}
    assert doc[0]["response"] == response
    assert doc[1]["services"] == []
    assert "other systems" in FORMATS["text"](rep)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_customer_report_names_no_host_check_operator_or_other_customer(rec: Recorder, fmt: str) -> None:
    out = FORMATS[fmt](build(rec))
    for name in INTERNAL + BETA_NAMES:
        assert name not in out, (fmt, name)
    assert "Website" in out
    assert "Database" in out
    beta = FORMATS[fmt](build(rec, customer=BETA_CO))
    for name in (*INTERNAL, "ACME GmbH", "Website", "Database"):
        assert name not in beta, (fmt, name)
    assert "BetaShop" in beta


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_the_internal_report_names_members_but_still_not_other_customers(rec: Recorder, fmt: str) -> None:
    out = FORMATS[fmt](build(rec, internal=True))
    for name in (WEB, HTTP, DB, SECRET, OTHER_HOST):
        assert name in out, (fmt, name)
    for name in BETA_NAMES:
        assert name not in out, (fmt, name)


def test_csv_rows(rec: Recorder) -> None:
    rows = list(csv.DictReader(io.StringIO(FORMATS["csv"](build(rec)))))
    assert [(r["kind"], r["service"]) for r in rows] == [
        ("service", "Website"), ("service", "Database"), ("service", "Search"),
        ("incident", "Website"), ("incident", "other systems"),
    ]  # fmt: skip
    assert rows[0]["availability_percent"] == "99.9005"
    assert rows[3]["response_status"] == "met"
    assert rows[3]["incident"] == "7"
    assert "host" not in rows[0]
    internal = list(csv.DictReader(io.StringIO(FORMATS["csv"](build(rec, internal=True)))))
    assert internal[1]["kind"] == "member"
    assert internal[1]["member"] == f"{WEB}:{HTTP}"


HOSTILE = '<script>alert("x")</script> & "Shop\' onmouseover=alert(1)'


def test_html_escapes_hostile_names_and_is_self_contained(rec: Recorder) -> None:
    hostile = Customer(
        "evil", "<b>Evil</b> & Co", ("acme-*",), (Service(HOSTILE, ((WEB, HTTP),)),), 99.9, BERLIN
    )
    page = FORMATS["html"](build(rec, customer=hostile))
    assert "<script" not in page
    assert "<b>" not in page
    assert '"Shop' not in page
    assert "'" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;Shop&#x27; onmouseover" in page
    assert "&lt;b&gt;Evil&lt;/b&gt; &amp; Co" in page
    assert "http://" not in page
    assert "https://" not in page
    assert "src=" not in page
    assert page.startswith("<!doctype html>")
    assert page.rstrip().endswith("</html>")


def test_text_and_csv_strip_control_characters_and_defuse_formulas(rec: Recorder) -> None:
    svc = Service("=HYPERLINK(\"http://x\")\x1b[31m", ((WEB, HTTP),))
    c = Customer("c", "C\x1b]0;owned\x07", ("acme-*",), (svc,), 99.9, BERLIN)
    rep = build(rec, customer=c)
    text = FORMATS["text"](rep)
    assert "\x1b" not in text
    assert "\x07" not in text
    rows = list(csv.DictReader(io.StringIO(FORMATS["csv"](rep))))
    assert rows[0]["service"].startswith("'=HYPERLINK")
    assert "\x1b" not in rows[0]["service"]
    assert json.loads(FORMATS["json"](rep))["services"][0]["name"] == svc.name  # JSON keeps it exact


def test_a_month_in_progress_says_so(rec: Recorder) -> None:
    rep = report.build(rec.db, ACME, "2026-11", T + HOUR)
    assert not rep.complete
    assert rep.services[0].availability.verdict(99.9).value == "at_risk"
    assert "so far (until 2026-11-11 10:00 CET)" in FORMATS["text"](rep)
    doc = reportformats.report_dict(rep)
    assert doc["period"]["complete"] is False
    assert doc["services"][0]["met"] is None


def test_a_bad_month_is_a_value_error(rec: Recorder) -> None:
    with pytest.raises(ValueError, match="expected a month like 2026-11"):
        report.build(rec.db, ACME, "2026-13", AFTER)


# -- command line -----------------------------------------------------------------------------------

CONFIG = f"""
auth: {{proxy_header: X-User, trusted_proxies: [127.0.0.1/32], proxy_auto_viewer: true}}
console:
  database: console.db
  timezone: {BERLIN}
customers:
  acme:
    name: ACME GmbH
    hosts: ["acme-*"]
    services:
      Website: ["{WEB}:{HTTP}"]
      Database: ["{DB}:{PGSQL}"]
  beta:
    name: Beta AG
    hosts: ["beta-*"]
    sla_target: 99.5
    services:
      BetaShop: ["{BETA}:{CART}"]
"""


@pytest.fixture
def config(tmp_path: Path, rec: Recorder) -> str:
    path = tmp_path / "console.yaml"
    path.write_text(CONFIG)
    return str(path)


def run(argv: list[str]) -> int:
    return report.report_main(argv, now=lambda: AFTER)


def test_cli_prints_the_report(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--config", config, "--customer", "acme", "--month", "2026-11", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in doc["services"]] == ["Website", "Database"]
    assert doc["internal"] is False
    assert run(["--config", config, "--customer", "acme", "--month", "2026-11", "--internal"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SLA report 2026-11 for ACME GmbH")
    assert WEB in out


def test_cli_defaults_to_the_current_month_in_the_customers_zone(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report.report_main(["--config", config, "--customer", "acme"], now=lambda: NOV_START + 1) == 0
    assert capsys.readouterr().out.startswith("SLA report 2026-11 ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--customer", "nobody"], "no customer 'nobody' in", id="unknown-customer"),
        pytest.param(["--customer", "acme", "--month", "2026-13"], "--month: expected a month", id="month"),
        pytest.param(["--customer", "acme", "--month", "November"], "--month: expected", id="month-word"),
        pytest.param(["--customer", "acme", "--month", "1999-12"], "between 2000-01 and 2099-12", id="range"),
    ],
)
def test_cli_bad_input_exits_2_with_a_message(
    config: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert run(["--config", config, *args]) == 2
    err = capsys.readouterr()
    assert message in err.err
    assert err.out == ""
    if "nobody" in args:
        assert "(configured: acme, beta)" in err.err


def test_cli_config_and_history_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope.yaml")
    assert run(["--config", missing, "--customer", "acme"]) == 2
    assert "nope.yaml: <top>: file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("customers:\n  acme:\n    sla_target: 120\n")
    assert run(["--config", str(bad), "--customer", "acme"]) == 2
    assert "customers.acme.sla_target" in capsys.readouterr().err
    fresh = tmp_path / "fresh" / "console.yaml"
    fresh.parent.mkdir()
    fresh.write_text(CONFIG)
    assert run(["--config", str(fresh), "--customer", "acme"]) == 2
    assert "no history yet" in capsys.readouterr().err
    assert not (fresh.parent / "console.db").exists()  # a report does not create one
    (fresh.parent / "console.db").write_bytes(b"not a database at all" * 100)
    assert run(["--config", str(fresh), "--customer", "acme"]) == 1
    assert "cannot read the history" in capsys.readouterr().err


def test_cli_usage_errors_are_argparse_exit_2(config: str) -> None:
    for argv in (["--config", config], ["--config", config, "--customer", "acme", "--format", "pdf"]):
        with pytest.raises(SystemExit) as exc:
            run(argv)
        assert exc.value.code == 2


@pytest.mark.parametrize(
    ("deadline", "done", "now", "status", "taken"),
    [
        pytest.param(600.0, 300.0, 9999.0, "met", 300.0, id="in-time"),
        pytest.param(600.0, 900.0, 9999.0, "breached", 900.0, id="late"),
        pytest.param(600.0, None, 400.0, "pending", 400.0, id="open-within"),
        pytest.param(600.0, None, 700.0, "breached", 700.0, id="open-past"),
        pytest.param(None, 300.0, 9999.0, "none", 300.0, id="no-deadline"),
    ],
)
def test_targets_by_the_deadline_the_incident_carried(
    deadline: float | None, done: float | None, now: float, status: str, taken: float
) -> None:
    r = sla.by_deadline(0.0, deadline, done, now)
    assert (r.status.value, r.taken_s, r.target_s) == (status, taken, deadline)
