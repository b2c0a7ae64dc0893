"""The `api` config section: defaults, services, token sources and every error with its key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from watchd.config.api import ApiConfig, ServiceConfig, TokenError, read_api
from watchd.configkit.reader import Reader
from watchd.core.errors import Problem
from watchd.core.model import State


def read(data: Any, checks: tuple[str, ...] | None = ("web", "db"), file: str = "/etc/watchd/watchd.yaml"):  # type: ignore[no-untyped-def]
    problems: list[Problem] = []
    cfg = read_api(Reader(data, "api", problems, file), checks)
    return cfg, [f"{p.path}: {p.message}" for p in problems]


def test_defaults() -> None:
    """No api section: 127.0.0.1:8765, writes disabled, status page on, CRITICAL/UNKNOWN down."""
    cfg, problems = read(None)
    assert problems == []
    assert cfg == ApiConfig()
    assert (cfg.listen, cfg.port, cfg.unix_socket, cfg.status_page) == ("127.0.0.1", 8765, None, True)
    assert cfg.down_states == frozenset({State.CRITICAL, State.UNKNOWN})
    assert cfg.timezone == "UTC"  # the display zone is the top-level `timezone` (tests/test_config.py)
    assert cfg.writes_configured is False
    assert cfg.token() is None


def test_full_section() -> None:
    """Every key, with relative paths resolved against the config file's directory."""
    cfg, problems = read(
        yaml.safe_load(
            """
listen: 0.0.0.0
port: 9000
unix_socket: run/api.sock
token_file: secrets/api-token
status_page: {enabled: false, title: Example status}
sla: {down_states: [critical]}
services:
  shop: {title: Web shop, checks: [web, db], target: 99.95, description: Our shop}
  db: {checks: db}
"""
        )
    )
    assert problems == []
    assert (cfg.listen, cfg.port) == ("0.0.0.0", 9000)
    assert cfg.unix_socket == "/etc/watchd/run/api.sock"
    assert cfg.token_file == "/etc/watchd/secrets/api-token"
    assert (cfg.status_page, cfg.title) == (False, "Example status")
    assert cfg.down_states == frozenset({State.CRITICAL})
    assert cfg.services == {
        "shop": ServiceConfig("shop", "Web shop", ("web", "db"), 99.95, "Our shop"),
        "db": ServiceConfig("db", "db", ("db",), 99.9, ""),
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param({"port": 70000}, "api.port: expected a port number 0..65535, not 70000", id="port"),
        pytest.param({"token": "x"}, "api.token: inline secrets are not accepted", id="inline-token"),
        pytest.param({"token_file": "a", "token_env": "B"}, "api.token_env: give token_file or", id="both"),
        pytest.param(
            {"listen": ""}, "api.listen: empty listen address needs a unix_socket", id="no-listener"
        ),
        pytest.param({"sla": {"timezone": "UTC"}}, "api.sla.timezone: moved: set the top-level `timezone`",
                     id="tz-moved"),
        pytest.param({"sla": {"down_states": ["ok"]}}, "api.sla.down_states: OK cannot count", id="ok-down"),
        pytest.param({"sla": {"down_states": ["bad"]}}, "api.sla.down_states: not a state", id="bad-state"),
        pytest.param({"status_page": {"colour": 1}}, "api.status_page.colour: unknown key", id="unknown"),
        pytest.param(
            {"services": {"s": {"checks": []}}}, "api.services.s.checks: a service needs", id="empty"
        ),
        pytest.param(
            {"services": {"s": {"checks": ["x"]}}}, "api.services.s.checks: unknown check 'x'", id="x"
        ),
        pytest.param(
            {"services": {"s": {"checks": ["web"], "target": 100}}},
            "api.services.s.target: expected a",
            id="100",
        ),
        pytest.param(
            {"services": {"a b": {"checks": ["web"]}}}, "api.services.a b: service names", id="name"
        ),
        pytest.param({"bogus": 1}, "api.bogus: unknown key", id="unknown-top"),
    ],
)
def test_errors(data: dict, expected: str) -> None:
    """Each mistake is reported with its key path."""
    _, problems = read(data)
    assert any(p.startswith(expected) for p in problems), problems


def test_service_members_unchecked_without_check_names() -> None:
    """Without the list of checks (checks=None), member names are not validated."""
    _, problems = read({"services": {"s": {"checks": ["anything"]}}}, checks=None)
    assert problems == []


def test_token_from_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token is read at use: from the file (whitespace stripped) or the variable."""
    f = tmp_path / "tok"
    f.write_text("  abc \n")
    assert ApiConfig(token_file=str(f)).token() == "abc"
    monkeypatch.setenv("TOK", "xyz")
    assert ApiConfig(token_env="TOK").token() == "xyz"
    with pytest.raises(TokenError, match="cannot read token file"):
        ApiConfig(token_file=str(tmp_path / "missing")).token()
    f.write_text("\n")
    with pytest.raises(TokenError, match="empty or missing"):
        ApiConfig(token_file=str(f)).token()
    monkeypatch.delenv("TOK")
    with pytest.raises(TokenError, match="environment variable TOK"):
        ApiConfig(token_env="TOK").token()
