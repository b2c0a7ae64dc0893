"""Forwarding to Icinga 2 without a network: object mapping, request bodies, answers, the backlog and
the `icinga2:` config section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from watchd import config as config_mod
from watchd.config import ConfigError
from watchd.core.model import CheckResult, PerfDatum, State
from watchd.delivery.icinga2.payload import Target, Verdict, body, judge_answer, target_for
from watchd.delivery.icinga2.queue import Backlog, Item
from watchd.delivery.icinga2.settings import Icinga2Settings

S = Icinga2Settings(
    url="https://icinga.test:5665", host="web-1", username="u", password="p",
    services={"disk_root": "disk /"}, host_check="ping", checks=("*", ), service="{check}",
)  # fmt: skip


@pytest.mark.parametrize(
    ("settings", "check", "expected"),
    [
        pytest.param(S, "load", Target("Service", "web-1!load"), id="template"),
        pytest.param(S, "disk_root", Target("Service", "web-1!disk /"), id="per-check-name"),
        pytest.param(S, "ping", Target("Host", "web-1"), id="host-check"),
        pytest.param(Icinga2Settings("https://x", "h", service="watchd-{host}-{check}"), "load",
                     Target("Service", "h!watchd-box-load"), id="placeholders"),
        pytest.param(Icinga2Settings("https://x", "h", checks=("http_*",)), "load", None, id="not-forwarded"),
        pytest.param(Icinga2Settings("https://x", "h", checks=("http_*",)), "http_shop",
                     Target("Service", "h!http_shop"), id="glob"),
    ],
)
def test_target(settings: Icinga2Settings, check: str, expected: Target | None) -> None:
    """Which Icinga object a check's result goes to."""
    assert target_for(settings, "box", check) == expected


def test_service_body() -> None:
    """A service result: Nagios state, output without perfdata, perfdata strings, times, source."""
    r = CheckResult(
        "load", State.WARNING, "LOAD WARNING - 5.2", long_output="line 2", reason="plugin wrote to stderr",
        perfdata=(PerfDatum("load1", 5.2, "", "~:5", "~:10", 0.0), PerfDatum("odd label", None)),
        started_at=1_700_000_000.0, duration_s=0.25,
    )  # fmt: skip
    b = body(S, "box", Target("Service", "web-1!load"), r)
    assert b == {
        "type": "Service",
        "service": "web-1!load",
        "exit_status": 1,
        "plugin_output": "LOAD WARNING - 5.2\nline 2\n[watchd] plugin wrote to stderr",
        "performance_data": ["load1=5.2;~:5;~:10;0", "'odd label'=U"],
        "check_source": "box",
        "execution_start": 1_700_000_000.0,
        "execution_end": 1_700_000_000.25,
    }


@pytest.mark.parametrize(
    ("state", "code"),
    [(State.OK, 0), (State.WARNING, 0), (State.CRITICAL, 1), (State.UNKNOWN, 1)],
    ids=["ok-up", "warning-up", "critical-down", "unknown-down"],
)
def test_host_body(state: State, code: int) -> None:
    """A host result is UP or DOWN; ttl is sent when configured."""
    s = Icinga2Settings("https://x", "web-1", ttl=300.0, check_source="watchd-a")
    b = body(s, "box", Target("Host", "web-1"), CheckResult("ping", state, "PING"))
    assert (b["type"], b["host"], b["exit_status"], b["ttl"], b["check_source"]) == (
        "Host", "web-1", code, 300.0, "watchd-a",
    )  # fmt: skip
    assert "execution_start" not in b  # a result without a start time does not invent one


OK = json.dumps({"results": [{"code": 200.0, "status": "Successfully processed check result for 'h!s'."}]})


@pytest.mark.parametrize(
    ("status", "raw", "verdict", "why"),
    [
        pytest.param(200, OK, Verdict.SENT, "", id="processed"),
        pytest.param(404, '{"error":404,"status":"No objects found."}', Verdict.REJECTED, "no such object",
                     id="no-such-object"),
        pytest.param(403, '{"results":[{"code":403,"status":"Passive checks are disabled for object"}]}',
                     Verdict.REJECTED, "Passive checks are disabled", id="passive-off"),
        pytest.param(403, '{"error":403,"status":"No permission to access object"}', Verdict.RETRY,
                     "No permission", id="no-permission"),
        pytest.param(200, '{"results":[{"code":503,"status":"busy"}]}', Verdict.RETRY, "busy",
                     id="result-says-retry"),
        pytest.param(401, '{"error":401,"status":"Unauthorized."}', Verdict.RETRY, "Unauthorized", id="auth"),
        pytest.param(403, "", Verdict.RETRY, "HTTP 403", id="permission"),
        pytest.param(503, "<html>", Verdict.RETRY, "HTTP 503", id="unavailable"),
        pytest.param(400, '{"error":400,"status":"Invalid exit_status"}', Verdict.REJECTED,
                     "Invalid exit_status", id="bad-request"),
        pytest.param(200, "not json", Verdict.REJECTED, "200 without results", id="garbage"),
    ],
)
def test_judge_answer(status: int, raw: str, verdict: Verdict, why: str) -> None:
    """Icinga's answers: sent, refused for good (drop), or not now (keep and back off)."""
    answer = judge_answer(status, raw.encode())
    assert answer.verdict is verdict
    assert why in answer.why


def item(n: int, target: str) -> Item:
    return Item(Target("Service", target), str(n).encode(), target)


def test_backlog_rounds_keep_order_per_object() -> None:
    """A round takes at most one result per object, so one service's results stay in order."""
    b = Backlog(10)
    for n, t in enumerate(["a", "b", "a", "c"]):
        b.put(item(n, t))
    first = b.take(5)
    assert [i.body for i in first] == [b"0", b"1"]  # stops before the second "a"
    b.give_back(first[1:])  # "b" failed: back in front
    assert [i.body for i in b.take(5)] == [b"1", b"2", b"3"]


def test_backlog_drops_oldest_when_full() -> None:
    """Full: the oldest result goes, counted; given-back items that overflow go the same way."""
    b = Backlog(3)
    for n in range(5):
        b.put(item(n, f"s{n}"))
    assert (len(b), b.dropped) == (3, 2)
    taken = b.take(1)
    b.put(item(9, "s9"))
    b.give_back(taken)
    assert (len(b), b.dropped) == (3, 3)
    assert [i.body for i in b.take(9)] == [b"3", b"4", b"9"]


CONFIG = """\
data_dir: {data}
api: {{enabled: false}}
checks:
  load: {{command: [/bin/true]}}
icinga2:
{section}
"""


def load(tmp_path: Path, section: str) -> config_mod.Config:
    (tmp_path / "pw").write_text("s3cret\n")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    path = tmp_path / "watchd.yaml"
    path.write_text(CONFIG.format(data=tmp_path / "data", section=section))
    return config_mod.load(str(path))


def test_config_section(tmp_path: Path) -> None:
    """The section's keys, defaults and secret: the password is read from its file."""
    cfg = load(tmp_path, "  url: https://icinga.test:5665\n  username: watchd\n  password_file: pw\n"
               "  ca_file: ca.crt\n  services: {load: cpu load}\n  retry: {min: 2s, max: 5m}\n")  # fmt: skip
    s = cfg.icinga2
    assert s is not None
    assert (s.url, s.host, s.username, s.password, s.ca_file) == (
        "https://icinga.test:5665", cfg.host, "watchd", "s3cret", str(tmp_path / "ca.crt"),
    )  # fmt: skip
    assert s.services == {"load": "cpu load"}
    assert (s.retry_min, s.retry_max, s.queue_size, s.batch) == (2, 300, 10000, 20)
    assert "s3cret" not in repr(s)


@pytest.mark.parametrize(
    ("section", "line", "message"),
    [
        pytest.param("  url: http://icinga.test:5665\n  username: u\n  password_file: pw\n", 6,
                     "icinga2.url: expected the API's https URL", id="not-https"),
        pytest.param("  url: https://icinga.test:5665/v1/actions\n  username: u\n  password_file: pw\n", 6,
                     "give the API's base URL without a path", id="path"),
        pytest.param("  url: https://i.test\n", 6, "icinga2: give username with password_file", id="no-auth"),
        pytest.param("  url: https://i.test\n  username: u\n", 7, "icinga2.username: needs password_file",
                     id="no-password"),
        pytest.param("  url: https://i.test\n  username: u\n  password_file: missing\n", 8,
                     "icinga2.password_file: cannot read secret file", id="missing-secret"),
        pytest.param("  url: https://i.test\n  cert_file: pw\n", 7, "cert_file: needs key_file",
                     id="cert-without-key"),
        pytest.param("  url: https://i.test\n  username: u\n  password_file: pw\n  service: '{name}'\n", 9,
                     "unknown placeholder {name}", id="placeholder"),
        pytest.param("  url: https://i.test\n  username: u\n  password_file: pw\n  host: 'a!b'\n", 9,
                     "not an Icinga object name", id="bang"),
        pytest.param("  url: https://i.test\n  username: u\n  password_file: pw\n  host_check: ping\n", 9,
                     "icinga2.host_check: unknown check 'ping'", id="host-check"),
        pytest.param("  url: https://i.test\n  username: u\n  password_file: pw\n  queue: 5\n", 9,
                     "icinga2.queue: unknown key", id="typo"),
    ],
)
def test_config_errors(tmp_path: Path, section: str, line: int, message: str) -> None:
    """Every mistake is reported with the file, line and key."""
    with pytest.raises(ConfigError) as info:
        load(tmp_path, section)
    text = str(info.value)
    assert message in text
    assert f"watchd.yaml:{line}:" in text


def test_disabled_section(tmp_path: Path) -> None:
    """`enabled: false` keeps the section validated but forwards nothing."""
    cfg = load(tmp_path, "  enabled: false\n  url: https://i.test\n  username: u\n  password_file: pw\n")
    assert cfg.icinga2 is None
