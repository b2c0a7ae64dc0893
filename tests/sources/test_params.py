"""Strict parameter reading: every built-in type rejects unknown keys and wrong types by key name."""

from __future__ import annotations

from typing import Any

import pytest

import watchd.sources.probes
import watchd.sources.resources  # noqa: F401  (registers the types)
from watchd.core.errors import ParamError
from watchd.sources import SOURCE_TYPES, BuildContext, factory_for, known_types
from watchd.sources.params import Params

# The smallest valid parameters for every built-in type.
MINIMAL: dict[str, dict[str, Any]] = {
    "cpu": {},
    "load": {},
    "memory": {},
    "swap": {},
    "disk": {},
    "disk_io": {},
    "net": {},
    "process": {"name": "nginx"},
    "systemd_unit": {"unit": "nginx.service"},
    "uptime": {},
    "reboot_required": {},
    "http": {"url": "http://127.0.0.1/"},
    "tls": {"host": "127.0.0.1", "port": 443},
    "tcp": {"host": "127.0.0.1", "port": 22},
    "dns": {"name": "localhost"},
    "icmp": {"host": "127.0.0.1"},
}


def test_every_builtin_type_is_registered() -> None:
    """Every documented type is known, and each resolves to its factory (http on first use)."""
    assert set(MINIMAL) <= set(known_types())
    assert all(factory_for(kind) is not None for kind in MINIMAL)
    assert set(MINIMAL) <= set(SOURCE_TYPES)


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_minimal_params_build(kind: str, ctx: BuildContext) -> None:
    """The documented minimum is enough, and the result has an async run()."""
    source = factory_for(kind)(kind, MINIMAL[kind], ctx)
    assert callable(source.run)


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_unknown_key_is_named(kind: str, ctx: BuildContext) -> None:
    """A typo is an error naming the key, never silently ignored."""
    with pytest.raises(ParamError) as err:
        factory_for(kind)(kind, {**MINIMAL[kind], "warnng": "80"}, ctx)
    assert err.value.key == "warnng"
    assert err.value.message == "unknown key"


BAD = [
    ("cpu", {"warning": "80:70"}, "warning", "start 80 lies above end 70"),
    ("cpu", {"critical": True}, "critical", "Nagios range"),
    ("load", {"warning": ["1", "2"]}, "warning", "list of three"),
    ("load", {"critical": ["1", "2", "x"]}, "critical[2]", "not a number"),
    ("load", {"per_core": "yes"}, "per_core", "true or false"),
    ("disk", {"mount": "data"}, "mount", "absolute path"),
    ("disk", {"mount": ["/", 3]}, "mount[1]", "non-empty string"),
    ("disk", {"exclude_fstypes": "tmpfs", "inodes_warning": "x"}, "inodes_warning", "not a number"),
    ("process", {}, "name", "at least one of name, cmdline or user"),
    ("process", {"cmdline": "("}, "cmdline", "invalid regular expression"),
    ("systemd_unit", {}, "unit", "failed_units"),
    ("reboot_required", {"state": "fatal"}, "state", "one of warning, critical"),
    ("http", {}, "url", "required"),
    ("http", {"url": "ftp://x/"}, "url", "http:// or https://"),
    ("http", {"url": "http://x/", "method": "BREW"}, "method", "one of GET"),
    ("http", {"url": "http://x/", "expect_status": [200, "2xy"]}, "expect_status", "'2xy' is not a status"),
    (
        "http",
        {"url": "http://x/", "basic_auth": {"username": "u", "password": "p"}},
        "basic_auth.password",
        "inline",
    ),
    ("http", {"url": "http://x/", "basic_auth": {"username": "u"}}, "basic_auth.password_file", "required"),
    ("http", {"url": "http://x/", "bearer_token": "t"}, "bearer_token", "inline secrets"),
    ("http", {"url": "http://x/", "ip_version": 5}, "ip_version", "4 or 6"),
    ("http", {"url": "http://x/", "max_body_bytes": -1}, "max_body_bytes", "at least 0"),
    ("http", {"url": "http://x/", "headers": {"X-A": ["b"]}}, "headers.X-A", "expected a string"),
    ("tls", {"host": "h"}, "port", "required"),
    ("tls", {"host": "h", "port": 70000}, "port", "at most 65535"),
    ("tls", {"host": "h", "port": 25, "starttls": "ftp"}, "starttls", "one of smtp, imap, pop3"),
    ("tls", {"host": "h", "port": 443, "min_version": "SSLv3"}, "min_version", "one of TLSv1"),
    ("tcp", {"host": "h", "port": "22"}, "port", "expected an integer"),
    ("tcp", {"host": "h", "port": 22, "expect": "a", "expect_regex": "b"}, "expect_regex", "not both"),
    ("dns", {"name": "x", "record": "SRV"}, "record", "one of A, NS"),
    ("dns", {"name": "x", "record": "MX"}, "server", "needs a server"),
    ("dns", {"name": "x", "server": "dns.example"}, "server", "IP address"),
    ("dns", {"name": "a..b", "server": "127.0.0.1"}, "name", "bad label"),
    ("icmp", {"host": "h", "count": 0}, "count", "at least 1"),
    ("icmp", {"host": "h", "interval": 0.001}, "interval", "at least 0.01"),
]


@pytest.mark.parametrize(("kind", "params", "key", "words"), BAD, ids=[f"{b[0]}-{b[2]}" for b in BAD])
def test_bad_params_name_the_key(
    kind: str, params: dict[str, Any], key: str, words: str, ctx: BuildContext
) -> None:
    """Wrong types and invalid values raise ParamError with the key and a message that says why."""
    with pytest.raises(ParamError) as err:
        factory_for(kind)(kind, params, ctx)
    assert err.value.key == key
    assert words in err.value.message


def test_params_reject_non_mapping() -> None:
    """A check body that is not a mapping is refused up front."""
    with pytest.raises(ParamError, match="expected a mapping"):
        Params(["a"])  # type: ignore[arg-type]


def test_nested_mapping_reports_full_path() -> None:
    """Keys inside a nested mapping are reported with their dotted path."""
    p = Params({"basic_auth": {"username": "u", "extra": 1}})
    nested = p.mapping("basic_auth")
    assert nested is not None
    nested.text("username")
    with pytest.raises(ParamError) as err:
        nested.done()
    assert err.value.key == "basic_auth.extra"


def test_null_value_means_default() -> None:
    """`key: ~` in YAML is the same as leaving the key out."""
    p = Params({"count": None})
    assert p.integer("count", 5) == 5
    p.done()
