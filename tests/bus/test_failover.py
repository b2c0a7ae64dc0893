"""Several brokers (`mqtt.brokers`): the config (addresses, defaults, clear errors) and the connection
moving on to the next broker when one is unreachable or drops, against two real mosquittos. The same
on a real RabbitMQ cluster, with real daemons: test_rabbitmq_cluster.py."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from mqtt_helpers import _collect, eventually

from servers.mosquitto import available, start_mosquitto
from watchd.bus import Bus
from watchd.bus.config import Broker, MqttConfig, parse_broker, read_mqtt
from watchd.configkit.reader import Reader
from watchd.core.errors import Problem
from watchd.core.model import CheckResult
from watchd.runtime.clock import SystemClock


def read(data: Any, file: str = "/etc/watchd/watchd.yaml") -> tuple[MqttConfig | None, list[str]]:
    problems: list[Problem] = []
    cfg = read_mqtt(Reader(data, "mqtt", problems, file))
    return cfg, [f"{p.file}: {p.path}: {p.message}" for p in problems]


def test_brokers_in_order_with_default_ports() -> None:
    """host, host:port and bracketed IPv6, in the order given; bare ones take `port` (1883, or 8883
    with TLS); host/port say the first (the preferred) broker."""
    cfg, problems = read({"brokers": ["10.0.0.1:1883", "mq-2", "[::1]:1884", "[fe80::1]"]})
    assert problems == []
    assert cfg is not None
    assert cfg.servers == (
        Broker("10.0.0.1", 1883), Broker("mq-2", 1883), Broker("::1", 1884), Broker("fe80::1", 1883),
    )  # fmt: skip
    assert [str(b) for b in cfg.servers] == ["10.0.0.1:1883", "mq-2:1883", "[::1]:1884", "[fe80::1]:1883"]
    assert (cfg.host, cfg.port) == ("10.0.0.1", 1883)
    cfg, _ = read({"brokers": ["mq-1", "mq-2:9000"], "tls": True})
    assert cfg is not None
    assert cfg.servers == (Broker("mq-1", 8883), Broker("mq-2", 9000))
    cfg, _ = read({"brokers": "mq-1", "port": 2000})  # one broker may be given without a list
    assert cfg is not None
    assert cfg.servers == (Broker("mq-1", 2000),)


def test_host_and_port_still_work() -> None:
    cfg, problems = read({"host": "mq", "port": 1884})
    assert problems == []
    assert cfg is not None
    assert (cfg.brokers, cfg.servers) == ((), (Broker("mq", 1884),))
    assert MqttConfig().servers == (Broker("localhost", 1883),)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"host": "mq", "brokers": ["a", "b"]}, "mqtt.host: use either host (one broker) or brokers"),
        ({"brokers": []}, "mqtt.brokers: expected a list of host or host:port, not []"),
        ({"host": "mq", "brokers": ["a:0"]}, "mqtt.brokers: item 1: expected a port number"),
        ({"brokers": {"a": 1}}, "mqtt.brokers: expected a list of host or host:port"),
        ({"brokers": ["a", ["b"]]}, "mqtt.brokers: item 2: expected a string, not a list"),
        ({"brokers": ["a", "b:0"]}, "mqtt.brokers: item 2: expected a port number 1-65535, not 0"),
        ({"brokers": ["a:70000"]}, "mqtt.brokers: item 1: expected a port number 1-65535, not 70000"),
        ({"brokers": ["a:http"]}, "mqtt.brokers: item 1: expected a port number 1-65535, not 'http'"),
        ({"brokers": ["a:"]}, "mqtt.brokers: item 1: missing port after ':' in 'a:'"),
        ({"brokers": ["::1"]}, "mqtt.brokers: item 1: an IPv6 address goes in brackets"),
        ({"brokers": ["[::1"]}, "mqtt.brokers: item 1: expected [address] or [address]:port"),
        ({"brokers": ["[::1]1883"]}, "mqtt.brokers: item 1: expected [address] or [address]:port"),
        ({"brokers": ["mq 1"]}, "mqtt.brokers: item 1: expected host or host:port, not 'mq 1'"),
        ({"brokers": ["mqtt://mq"]}, "mqtt.brokers: item 1: expected host or host:port"),
        ({"brokers": ["a:1883", "b", "a"]}, "mqtt.brokers: item 3: a:1883 is listed twice"),
    ],
)  # fmt: skip
def test_bad_brokers_name_file_key_and_problem(data: dict[str, Any], problem: str) -> None:
    _, problems = read(data)
    assert any(p.startswith(f"/etc/watchd/watchd.yaml: {problem}") for p in problems), problems
    either = "/etc/watchd/watchd.yaml: mqtt.host: use either host (one broker) or brokers (a list), not both"
    assert len([p for p in problems if p != either]) <= 1, problems
    assert (either in problems) == ("host" in data), problems


@pytest.mark.parametrize("text", ["١٢٣", "+1", " 1", "1e3"])
def test_port_is_ascii_digits_only(text: str) -> None:
    with pytest.raises(ValueError, match="expected a port number"):
        parse_broker(f"mq:{text}", 1883)


# -- live: two mosquittos ---------------------------------------------------------------------------


async def nothing(result: CheckResult) -> None:
    pass


async def retained_status(port: int) -> dict[str, Any]:
    async with _collect(port, ("watchd/web-1/status",), {}) as c:
        (msg,) = await c.wait_for(lambda m: True)
        return json.loads(msg.payload)  # type: ignore[no-any-return]


@pytest.mark.slow
async def test_the_bus_moves_to_the_next_broker(tmp_path: Path) -> None:
    """The first broker is down: the bus connects to the second. The second goes away while the first
    is back: the bus moves on round the list to the first. Each broker's retained status shows where
    the bus said online."""
    if available():
        pytest.skip(available())
    with start_mosquitto(tmp_path / "a") as a, start_mosquitto(tmp_path / "b") as b:
        a.stop()
        cfg = MqttConfig(
            brokers=(Broker("127.0.0.1", a.port), Broker("127.0.0.1", b.port)), heartbeat_interval=0.2,
            reconnect_min=0.05, reconnect_max=0.1,
        )  # fmt: skip
        bus = Bus(cfg, "web-1", "1.2.3", SystemClock(), nothing, rng=random.Random(1))
        await bus.start()
        try:
            await eventually(lambda: bus.connected, what="connected to the second broker")
            assert bus.stats.reconnects >= 1  # the first attempt went to the broker that is down
            assert (await retained_status(b.port))["status"] == "online"
            a.start()  # fresh, without persistence: no retained status until the bus connects to it
            b.stop()
            assert (await retained_status(a.port))["status"] == "online"
        finally:
            await bus.stop()
        assert (await retained_status(a.port))["reason"] == "shutdown"  # the clean stop went there too
