"""The `pagerduty:` and `opsgenie:` blocks of a contact, read with the config Reader: secrets from a
file or the environment, defaults, and every mistake reported with file, line and key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from watchd.config.paging import read_opsgenie, read_pagerduty
from watchd.configkit.reader import Reader
from watchd.configkit.yamlfile import load_yaml
from watchd.core.errors import Problem
from watchd.delivery.paging.opsgenie import EU_URL, US_URL, OpsgenieSettings
from watchd.delivery.paging.pagerduty import EVENTS_URL, PagerDutySettings

PD_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


def block(tmp_path: Path, name: str, text: str) -> tuple[Any, list[Problem], str]:
    """Read `contacts.ann.<name>` from a real YAML file, as config.load would."""
    (tmp_path / "pd.key").write_text(PD_KEY + "\n")
    (tmp_path / "og.key").write_text("og-api-key\n")
    cfg = tmp_path / "watchd.yaml"
    cfg.write_text(
        f"contacts:\n  ann:\n    {name}:\n" + "".join(f"      {line}\n" for line in text.splitlines())
    )
    doc = load_yaml(str(cfg))
    problems: list[Problem] = []
    contact = Reader(doc, "", problems).child("contacts").child("ann")
    reader = read_pagerduty if name == "pagerduty" else read_opsgenie
    return reader(contact.child(name), str(tmp_path)), problems, str(cfg)


def test_pagerduty_minimal(tmp_path: Path) -> None:
    settings, problems, _ = block(tmp_path, "pagerduty", "routing_key_file: pd.key")
    assert problems == []
    assert settings == PagerDutySettings(routing_key=PD_KEY, url=EVENTS_URL, timeout=10.0, source="")


def test_pagerduty_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PD_KEY", PD_KEY)
    text = (
        "routing_key_env: PD_KEY\nurl: https://events.eu.pagerduty.com/v2/enqueue\ntimeout: 30s\nsource: shop"
    )
    settings, problems, _ = block(tmp_path, "pagerduty", text)
    assert problems == []
    assert settings == PagerDutySettings(PD_KEY, "https://events.eu.pagerduty.com/v2/enqueue", 30.0, "shop")


def test_absent_blocks_are_none() -> None:
    problems: list[Problem] = []
    contact = Reader({"email": "a@example.com"}, "contacts.ann", problems)
    assert read_pagerduty(contact.child("pagerduty"), "/") is None
    assert read_opsgenie(contact.child("opsgenie"), "/") is None
    assert problems == []


@pytest.mark.parametrize(
    ("text", "line", "path", "message"),
    [
        ("routing_key: abc", 4, "pagerduty.routing_key", "inline secrets are not accepted"),
        ("url: https://x.example", 4, "pagerduty", "routing_key_file or routing_key_env is required"),
        ("routing_key_file: missing.key", 4, "pagerduty.routing_key_file", "cannot read secret file"),
        ("routing_key_env: WATCHD_NO_SUCH_VAR", 4, "pagerduty.routing_key_env", "empty or missing"),
        ("routing_key_file: og.key", 4, "pagerduty.routing_key_file", "has 32 characters, this one 10"),
        ("routing_key_file: pd.key\nurl: ftp://x", 5, "pagerduty.url", "expected an http(s) URL"),
        ("routing_key_file: pd.key\ntimeout: soon", 5, "pagerduty.timeout", ""),
        ("routing_key_file: pd.key\nseverity: high", 5, "pagerduty.severity", "unknown key"),
    ],
    ids=["inline", "no-key", "no-file", "no-env", "key-length", "url", "timeout", "unknown"],
)
def test_pagerduty_problems(tmp_path: Path, text: str, line: int, path: str, message: str) -> None:
    settings, problems, cfg = block(tmp_path, "pagerduty", text)
    assert settings is None or path.endswith(("url", "timeout", "severity"))
    assert [(p.file, p.line, p.path) for p in problems] == [(cfg, line, f"contacts.ann.{path}")], problems
    assert message in problems[0].message


def test_opsgenie_defaults_to_the_us_instance(tmp_path: Path) -> None:
    settings, problems, _ = block(tmp_path, "opsgenie", "api_key_file: og.key")
    assert problems == []
    assert settings == OpsgenieSettings(api_key="og-api-key", url=US_URL)


def test_opsgenie_everything(tmp_path: Path) -> None:
    text = (
        "api_key_file: og.key\nregion: eu\ntags: [shop, web]\ntimeout: 5s\nresponders:\n"
        "  - {type: team, name: ops}\n  - {type: user, username: ann@example.com}\n"
        "  - {type: escalation, id: 4513b7ea-3b91-438f-b7e4-e3e54af9147c}\n"
        "  - {type: schedule, name: weekend}"
    )
    settings, problems, _ = block(tmp_path, "opsgenie", text)
    assert problems == []
    assert settings == OpsgenieSettings(
        api_key="og-api-key",
        url=EU_URL,
        responders=(
            {"type": "team", "name": "ops"},
            {"type": "user", "username": "ann@example.com"},
            {"type": "escalation", "id": "4513b7ea-3b91-438f-b7e4-e3e54af9147c"},
            {"type": "schedule", "name": "weekend"},
        ),
        tags=("shop", "web"),
        timeout=5.0,
    )


def test_opsgenie_url_instead_of_region(tmp_path: Path) -> None:
    settings, problems, _ = block(tmp_path, "opsgenie", "api_key_file: og.key\nurl: http://127.0.0.1:8080")
    assert problems == []
    assert settings is not None
    assert settings.url == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("api_key: abc", "opsgenie.api_key", "inline secrets are not accepted"),
        ("region: eu", "opsgenie", "api_key_file or api_key_env is required"),
        ("api_key_file: og.key\nregion: asia", "opsgenie.region", "expected one of us, eu"),
        ("api_key_file: og.key\nregion: eu\nurl: https://api.eu.opsgenie.com", "opsgenie.url", "not both"),
        ("api_key_file: og.key\nresponders: ops", "opsgenie.responders", "expected a list"),
        (
            "api_key_file: og.key\nresponders: [{type: squad, name: x}]",
            "opsgenie.responders[0].type",
            "expected one of team, user, escalation, schedule",
        ),
        (
            "api_key_file: og.key\nresponders: [{type: user, name: ann}]",
            "opsgenie.responders[0]",
            "a user responder needs exactly one of id or username",
        ),
        (
            "api_key_file: og.key\nresponders: [{type: team, id: a, name: b}]",
            "opsgenie.responders[0]",
            "a team responder needs exactly one of id or name",
        ),
        (
            "api_key_file: og.key\nresponders: [{type: team, name: ops, colour: red}]",
            "opsgenie.responders[0].colour",
            "unknown key",
        ),
        ("api_key_file: og.key\ntags: [" + "x" * 51 + "]", "opsgenie.tags", "a tag has 1 to 50 characters"),
        (
            "api_key_file: og.key\ntags: [" + ", ".join(f"t{i}" for i in range(18)) + "]",
            "opsgenie.tags",
            "at most 17 tags",
        ),
        ("api_key_file: og.key\nteam: ops", "opsgenie.team", "unknown key"),
    ],
    ids=[
        "inline",
        "no-key",
        "region",
        "region-and-url",
        "responders-not-list",
        "responder-type",
        "user-by-name",
        "two-names",
        "responder-unknown-key",
        "long-tag",
        "too-many-tags",
        "unknown",
    ],
)
def test_opsgenie_problems(tmp_path: Path, text: str, path: str, message: str) -> None:
    _, problems, cfg = block(tmp_path, "opsgenie", text)
    assert [(p.file, p.path) for p in problems] == [(cfg, f"contacts.ann.{path}")], problems
    assert message in problems[0].message
    assert problems[0].line is not None
