"""The top-level `mqtt:` section (reference: docs/mqtt.md).

    mqtt:
      host: broker.example.net      # or, for a cluster: brokers: [mq-1:1883, mq-2:1883]
      tls: {ca_file: /etc/watchd/mqtt-ca.pem}
      username: web-1
      password_file: /etc/watchd/mqtt.pass
      peers: all
      command_secret_file: /etc/watchd/command.key

Files are named here and read when the bus starts (secrets never sit in the config object); a relative
path is relative to the config file's directory. No section, or `enabled: false`: no bus.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from watchd.bus.topics import check_prefix
from watchd.configkit import reader as r


@dataclass(frozen=True, slots=True)
class TlsConfig:
    ca_file: str | None = None  # None: the system's CA store
    cert_file: str | None = None  # client certificate (with key_file)
    key_file: str | None = None
    insecure: bool = False  # skip the broker's host name check (the chain is still verified)


@dataclass(frozen=True, slots=True)
class Broker:
    """One broker address; `str()` is `host:port`, with an IPv6 address in brackets."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class MqttConfig:
    host: str = "localhost"  # with `brokers`: the first one's
    port: int = 1883  # 8883 when tls is set
    brokers: tuple[Broker, ...] = ()  # the nodes of one cluster, in order of preference; (): host:port
    prefix: str = "watchd/"
    client_id: str | None = None  # None: watchd-<host>
    username: str | None = None
    password_file: str | None = None
    tls: TlsConfig | None = None
    keepalive: int = 30
    heartbeat_interval: float = 10.0
    result_qos: int = 0
    buffer_size: int = 10_000
    reconnect_min: float = 1.0
    reconnect_max: float = 60.0
    peers: tuple[str, ...] = ()  # host names or glob patterns; ("*",) for `all`; (): not a watcher
    peer_timeout: float | None = None  # None: 3 x heartbeat_interval
    command_secret_file: str | None = None  # None: commands are not subscribed to
    command_max_age: float = 60.0
    protocol: str = "5"  # "5" or "3.1.1"

    @property
    def servers(self) -> tuple[Broker, ...]:
        """Where to connect, in order of preference (the connection moves on when one fails)."""
        return self.brokers or (Broker(self.host, self.port),)

    @property
    def effective_peer_timeout(self) -> float:
        return self.peer_timeout if self.peer_timeout is not None else 3 * self.heartbeat_interval


def read_mqtt(rd: r.Reader) -> MqttConfig | None:
    if not rd.ok:
        return None
    d = MqttConfig()
    enabled = rd.get("enabled", r.boolean, True)
    base = os.path.dirname(rd.file) if rd.file not in ("", "?") else ""

    def path(value: Any) -> str:
        return _readable(os.path.join(base, os.path.expanduser(r.string(value))))

    tls: TlsConfig | None = None
    if rd.has("tls") and rd.raw("tls") not in (None, False):
        if rd.raw("tls") is True:
            tls = TlsConfig()
        else:
            t_rd = rd.child("tls")
            tls = TlsConfig(
                ca_file=t_rd.get("ca_file", path, None),
                cert_file=t_rd.get("cert_file", path, None),
                key_file=t_rd.get("key_file", path, None),
                insecure=t_rd.get("insecure", r.boolean, False),
            )
            if (tls.cert_file is None) != (tls.key_file is None):
                t_rd.problem("cert_file" if tls.cert_file is None else "key_file", "cert_file needs key_file")
            t_rd.finish()
    else:
        rd.mark_read("tls")
    heartbeat = rd.get("heartbeat_interval", r.duration, d.heartbeat_interval)
    rc_rd = rd.child("reconnect")
    reconnect_min = rc_rd.get("min", r.duration, d.reconnect_min)
    reconnect_max = rc_rd.get("max", r.duration, d.reconnect_max)
    if reconnect_min > reconnect_max:
        rc_rd.problem("min", f"must not exceed max ({reconnect_max:g}s)")
    rc_rd.finish()
    username = rd.get("username", r.string, None)
    password_file = rd.get("password_file", path, None)
    if password_file is not None and username is None:
        rd.problem("password_file", "needs username")
    peer_timeout = rd.get("peer_timeout", r.duration, None)
    if peer_timeout is not None and peer_timeout <= heartbeat:
        rd.problem("peer_timeout", f"must be longer than heartbeat_interval ({heartbeat:g}s)")
    port = rd.get("port", _port, 8883 if tls is not None else d.port)
    host = rd.get("host", r.string, d.host)
    brokers = rd.get("brokers", lambda v: _brokers(v, port), ())
    if rd.raw("brokers") is not None and rd.has("host"):
        rd.problem("host", "use either host (one broker) or brokers (a list), not both")
    out = MqttConfig(
        host=brokers[0].host if brokers else host,
        port=brokers[0].port if brokers else port,
        brokers=brokers,
        prefix=rd.get("prefix", lambda v: check_prefix(r.string(v)), d.prefix),
        client_id=rd.get("client_id", _client_id, None),
        username=username,
        password_file=password_file,
        tls=tls,
        keepalive=rd.get("keepalive", _keepalive, d.keepalive),
        heartbeat_interval=heartbeat,
        result_qos=rd.get("result_qos", _qos, d.result_qos),
        buffer_size=rd.get("buffer_size", r.positive_int, d.buffer_size),
        reconnect_min=reconnect_min,
        reconnect_max=reconnect_max,
        peers=rd.get("peers", _peers, d.peers),
        peer_timeout=peer_timeout,
        command_secret_file=rd.get("command_secret_file", path, None),
        command_max_age=rd.get("command_max_age", r.duration, d.command_max_age),
        protocol=rd.get("protocol", _protocol, d.protocol),
    )
    rd.finish()
    return out if enabled else None


def _readable(path: str) -> str:
    if not os.access(path, os.R_OK):
        raise ValueError(f"cannot read {path}")
    return path


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"expected a port number 1-65535, not {value!r}")
    return value


def _brokers(value: Any, default_port: int) -> tuple[Broker, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValueError(f"expected a list of host or host:port, not {r.shown(value)}")
    out: list[Broker] = []
    for i, item in enumerate(items, 1):
        try:
            broker = parse_broker(r.string(item), default_port)
        except ValueError as exc:
            raise ValueError(f"item {i}: {exc}") from None
        if broker in out:
            raise ValueError(f"item {i}: {broker} is listed twice")
        out.append(broker)
    return tuple(out)


def parse_broker(text: str, default_port: int) -> Broker:
    """`host`, `host:port`, `[v6-address]` or `[v6-address]:port`; ValueError for anything else."""
    text = text.strip()
    if "://" in text:
        raise ValueError(f"expected host or host:port without a scheme, not {r.shown(text)}")
    host, port_text = text, ""
    if text.startswith("["):
        host, sep, after = text[1:].partition("]")
        if not sep or (after and not after.startswith(":")):
            raise ValueError(f"expected [address] or [address]:port, not {r.shown(text)}")
        port_text = after[1:]
        if after and not port_text:
            raise ValueError(f"missing port after ':' in {r.shown(text)}")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        if not port_text:
            raise ValueError(f"missing port after ':' in {r.shown(text)}")
    elif ":" in text:
        raise ValueError(f"an IPv6 address goes in brackets ([::1]:1883), not {r.shown(text)}")
    if not host or any(c.isspace() or c in "/[]@" for c in host):
        raise ValueError(f"expected host or host:port, not {r.shown(text)}")
    if not port_text:
        return Broker(host, default_port)
    if not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"expected a port number 1-65535, not {r.shown(port_text)}")
    return Broker(host, _port(int(port_text)))


def _keepalive(value: Any) -> int:
    seconds = r.duration(value)
    if not 5 <= seconds <= 65535:
        raise ValueError(f"expected 5s to 65535s, not {value!r}")
    return int(seconds)


def _qos(value: Any) -> int:
    if isinstance(value, bool) or value not in (0, 1, 2):
        raise ValueError(f"expected 0, 1 or 2, not {value!r}")
    return int(value)


def _client_id(value: Any) -> str:
    text = r.string(value)
    if not text or len(text.encode()) > 65535 or any(c in text for c in "+#/\0"):
        raise ValueError(f"expected a non-empty client id without + # / , not {value!r}")
    return text


def _peers(value: Any) -> tuple[str, ...]:
    if value is False or value in ("none", []):
        return ()
    if value == "all":
        return ("*",)
    items = r.string_list(value)
    for item in items:
        if not item or any(c in item for c in "/+#\0"):
            raise ValueError(f"a peer is a host name or a glob pattern, not {item!r}")
    return items


def _protocol(value: Any) -> str:
    text = str(value).strip().lower().removeprefix("v").removeprefix("mqtt")
    if text in ("5", "5.0"):
        return "5"
    if text in ("3.1.1", "311", "4"):
        return "3.1.1"
    raise ValueError(f"expected 5 or 3.1.1, not {value!r}")
