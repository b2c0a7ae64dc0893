"""The console config: every problem named with file, key path and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchd.console import config
from watchd.core.errors import ConfigError


def problems(tmp_path: Path, body: str) -> list[str]:
    f = tmp_path / "console.yaml"
    f.write_text(body)
    with pytest.raises(ConfigError) as exc:
        config.load(str(f))
    return [str(p) for p in exc.value.problems]


def test_defaults_listen_on_loopback(tmp_path: Path) -> None:
    f = tmp_path / "console.yaml"
    f.write_text("auth: {proxy_header: X-User, trusted_proxies: [127.0.0.1/32], proxy_auto_viewer: true}\n")
    cfg = config.load(str(f))
    assert (cfg.listen_host, cfg.listen_port) == ("127.0.0.1", 8480)
    assert cfg.database == str(tmp_path / "console.db")


def test_bad_values_are_named(tmp_path: Path) -> None:
    out = problems(
        tmp_path,
        "console: {listen: 'x:99999', colour: red}\n"
        "auth:\n  accounts:\n    bob: {password_hash: plain-text, role: admin}\n"
        "customers:\n  'a/b': {name: X}\n  acme: {sla_target: 120, services: {Web: []}}\n"
        "mqtt: {port: 0}\n",
    )
    text = "\n".join(out)
    for expected in (
        "console.listen: expected host:port",
        "console.colour: unknown key",
        "auth.accounts.bob.role: ",
        "customers.a/b: a customer id is its page's URL",
        "customers.acme.sla_target: expected a percentage",
        "customers.acme.services.Web: a service needs at least one host:check",
        "mqtt.port: expected a port number",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"
    assert all(line.startswith(str(tmp_path / "console.yaml")) for line in out)


def test_yaml_errors_carry_the_line(tmp_path: Path) -> None:
    (out,) = problems(tmp_path, "console:\n  listen: [\n")  # nothing else is read after a YAML error
    assert ("invalid YAML" in out and ":3:" in out) or ":2:" in out


def test_services_match_hosts_and_checks_by_glob(tmp_path: Path) -> None:
    f = tmp_path / "console.yaml"
    f.write_text(
        "auth: {proxy_header: X-User, trusted_proxies: [127.0.0.1/32], proxy_auto_viewer: true}\n"
        "customers:\n  acme:\n    services: {Website: ['web-*:http', 'lb-1']}\n"
    )
    (svc,) = config.load(str(f)).customers["acme"].services
    assert svc.covers("web-7", "http")
    assert not svc.covers("web-7", "disk")
    assert svc.covers("lb-1", "anything")
    assert not svc.covers("db-1", "http")
