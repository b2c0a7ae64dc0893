"""The console's own config file (reference: docs/console.md).

    console:
      listen: 127.0.0.1:8480
      database: /var/lib/watchd/console.db
    mqtt: {host: broker.example.net, command_secret_file: /etc/watchd/command.key}
    auth:
      accounts:
        alice: {password_hash_file: /etc/watchd/console/alice.hash, role: operator}
    customers:
      acme:
        name: ACME GmbH
        hosts: [web-1, "db-*"]
        services:
          Website: [web-1:http, web-2:http]

The `mqtt:` section is the daemon's (bus/config.py): the same broker, prefix, TLS and credentials, and
the same command secret, since the console signs the commands the hosts verify. Customers' `name` and
service names are public (customer pages show them and nothing else); host and check names stay internal.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from watchd.bus.config import MqttConfig, read_mqtt
from watchd.configkit import reader as r
from watchd.configkit.yamlfile import load_yaml
from watchd.console.accounts import AuthConfig, read_auth
from watchd.core.errors import ConfigError, Problem

DEFAULT_PORT = 8480


@dataclass(frozen=True, slots=True)
class Service:
    """A public name over internal (host, check) patterns: `web-*:http`, `db-1` (every check)."""

    name: str
    members: tuple[tuple[str, str], ...]

    def covers(self, host: str, check: str) -> bool:
        return any(fnmatch.fnmatchcase(host, h) and fnmatch.fnmatchcase(check, c) for h, c in self.members)


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    name: str
    hosts: tuple[str, ...]  # host names or glob patterns
    services: tuple[Service, ...]
    sla_target: float  # percent, e.g. 99.9
    timezone: str

    def owns(self, host: str) -> bool:
        return any(fnmatch.fnmatchcase(host, p) for p in self.hosts) or any(
            fnmatch.fnmatchcase(host, h) for s in self.services for h, _ in s.members
        )


@dataclass(frozen=True, slots=True)
class GraphConfig:
    sample_every: float = 300.0  # Munin's resolution: a check's perfdata is kept at most this often
    raw_days: float = 2.0  # samples at full resolution; older ones are kept as hourly min/avg/max
    days: float = 35.0  # hourly rollups; enough for the month graph


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    file: str
    listen_host: str = "127.0.0.1"
    listen_port: int = DEFAULT_PORT
    public_url: str | None = None
    database: str = "console.db"
    title: str = "watchd console"
    timezone: str = "UTC"
    silent_after: float = 3.0  # heartbeat intervals without a heartbeat before a host counts as silent
    command_timeout: float = 10.0  # how long the browser waits for a host's answer
    resync: bool = True  # ask hosts for their retained state on connect (RabbitMQ needs it)
    history_days: float = 400.0  # state changes and incidents (the 90-day bars and monthly reports)
    ticket_urls: dict[str, str] = field(default_factory=dict)  # ticket channel -> URL with {ref}
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    graphs: GraphConfig = field(default_factory=GraphConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    customers: dict[str, Customer] = field(default_factory=dict)

    def customer_of(self, host: str) -> Customer | None:
        for c in self.customers.values():
            if c.owns(host):
                return c
        return None


def load(path: str) -> ConsoleConfig:
    """Read and check one console config file; ConfigError lists every problem."""
    problems: list[Problem] = []
    try:
        doc = load_yaml(path)
    except FileNotFoundError:
        raise ConfigError([Problem(path, "", "file not found")]) from None
    except OSError as exc:
        raise ConfigError([Problem(path, "", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(path, "", f"not UTF-8 text (byte {exc.start})")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        msg = f"invalid YAML: {getattr(exc, 'problem', None) or exc}"
        raise ConfigError([Problem(path, "", msg, line)]) from None
    if doc is None:
        doc = {}
    cfg = parse(doc, path, problems)
    if problems:
        raise ConfigError(problems)
    return cfg


def parse(doc: Any, path: str, problems: list[Problem]) -> ConsoleConfig:
    top = r.Reader(doc, "", problems, path)
    base = os.path.dirname(path)
    d = ConsoleConfig(file=path)
    c = top.child("console")
    host, port = c.get("listen", _listen, (d.listen_host, d.listen_port))
    database = c.get("database", r.string, d.database)
    public_url = c.get("public_url", _url, None)
    out_console = dict(
        listen_host=host,
        listen_port=port,
        public_url=public_url,
        database=os.path.join(base, os.path.expanduser(database)),
        title=c.get("title", r.string, d.title),
        timezone=c.get("timezone", r.timezone, d.timezone),
        silent_after=c.get("silent_after", _at_least(1.5), d.silent_after),
        command_timeout=c.get("command_timeout", r.duration, d.command_timeout),
        history_days=c.get("history_days", _at_least(91), d.history_days),
        resync=c.get("resync", r.boolean, d.resync),
        ticket_urls=c.get("ticket_urls", _ticket_urls, {}),
    )
    g, gd = c.child("graphs"), GraphConfig()
    graphs = GraphConfig(
        sample_every=g.get("sample_every", r.duration, gd.sample_every),
        raw_days=g.get("raw_days", _at_least(0), gd.raw_days),
        days=g.get("days", _at_least(1), gd.days),
    )
    g.finish()
    c.finish()
    mqtt = read_mqtt(top.child("mqtt")) if top.has("mqtt") else MqttConfig()
    top.mark_read("mqtt")
    if mqtt is None:
        top.problem("mqtt", "the console needs the bus: enabled must not be false")
        mqtt = MqttConfig()
    raw_mqtt = top.raw("mqtt")
    if not isinstance(raw_mqtt, dict) or "protocol" not in raw_mqtt:
        # MQTT 3.1.1 unless asked otherwise: paho decodes every MQTT 5 message's properties, which
        # costs 2.5 times the CPU per message (121 vs 48 us here), and the console needs no v5 feature.
        mqtt = dataclasses.replace(mqtt, protocol="3.1.1")
    out = ConsoleConfig(
        file=path,
        mqtt=mqtt,
        graphs=graphs,
        auth=read_auth(top.child("auth")),
        customers=_customers(top.child("customers"), out_console["timezone"]),
        **out_console,
    )
    top.finish()
    return out


def _customers(rd: r.Reader, zone: str) -> dict[str, Customer]:
    out: dict[str, Customer] = {}
    for cid in rd.names():
        if not _slug(cid):
            rd.problem(cid, "a customer id is its page's URL (/s/<id>): letters, digits, - and _ only")
        c = rd.child(cid)
        s_rd = c.child("services")
        services = []
        for sname in s_rd.names():
            members = s_rd.get(sname, _members, ())
            services.append(Service(sname, members))
        target = c.get("sla_target", r.number, 99.9)
        if not 0 < target <= 100:
            c.problem("sla_target", f"expected a percentage above 0 and at most 100, not {target:g}")
        out[cid] = Customer(
            id=cid,
            name=c.get("name", r.string, cid),
            hosts=c.get("hosts", r.string_list, ()),
            services=tuple(services),
            sla_target=target,
            timezone=c.get("timezone", r.timezone, zone),
        )
        c.finish()
    return out


def _slug(text: str) -> bool:
    return bool(text) and all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in text)


def _members(value: Any) -> tuple[tuple[str, str], ...]:
    out = []
    for item in r.string_list(value):
        host, _, check = item.partition(":")
        if not host:
            raise ValueError(f"expected host:check or host (globs allowed), not {item!r}")
        out.append((host, check or "*"))
    if not out:
        raise ValueError("a service needs at least one host:check")
    return tuple(out)


def _listen(value: Any) -> tuple[str, int]:
    text = r.string(value)
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:  # 0: any free port (tests)
        raise ValueError(f"expected host:port (port 1-65535), not {value!r}")
    return host, int(port)


def _ticket_urls(value: Any) -> dict[str, str]:
    out = r.string_map(value)
    for channel, template in out.items():
        if "{ref}" not in template:
            raise ValueError(f"{channel}: the URL needs {{ref}} where the ticket number goes")
        _url(template)
    return out


def _url(value: Any) -> str:
    text = r.string(value).rstrip("/")
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"expected an http:// or https:// URL, not {value!r}")
    return text


def _at_least(low: float) -> Any:
    def conv(value: Any) -> float:
        n = r.number(value)
        if n < low:
            raise ValueError(f"must be at least {low:g}, not {n:g}")
        return n

    return conv
