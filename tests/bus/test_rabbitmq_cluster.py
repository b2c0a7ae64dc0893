"""A real two-node RabbitMQ cluster (tests/servers/rabbitmq.py): broker failover of real daemons, and
the ways RabbitMQ 3.10's MQTT differs from mosquitto (docs/mqtt.md, "Clustered broker (RabbitMQ)").

Failover: the node a daemon is connected to dies, the daemon carries on through the other node, and a
check that changes state afterwards is seen exactly once, as one state change and one incident, by a
subscriber that failed over as well, and by the fleet console (which fails over too, asks the hosts to
resync, and records exactly one state change and one incident); the daemon on the surviving node is
untouched and no fleet incident is opened (until, as the control, the first daemon really dies)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from servers.rabbitmq import RabbitCluster, available, start_rabbitmq_cluster
from watchd.bus.commands import sign
from watchd.bus.connection import client_id_for
from watchd.console import config as console_config
from watchd.console.server import ConsoleServer

pytestmark = pytest.mark.slow

V311 = aiomqtt.ProtocolVersion.V311


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RabbitCluster]:
    why = available()
    if why:
        pytest.skip(why)
    with start_rabbitmq_cluster(tmp_path / "rabbit") as c:
        yield c


class FailoverSubscriber:
    """An independent client on `watchd/#` that moves to the next broker when its connection drops,
    as watchd does, with watchd's client id per broker (a QoS 1 subscription needs that on RabbitMQ
    3.10); clean sessions, so it resubscribes on every node it lands on. (The console will take its
    place.) One subscription only: RabbitMQ delivers a message once per matching subscription, so
    overlapping filters would duplicate what this test counts."""

    def __init__(self, brokers: list[str]) -> None:
        self.brokers = brokers
        self.connects: list[str] = []  # broker of each successful connect, in order
        self.messages: list[tuple[str, Any]] = []  # (topic, decoded payload or None)
        self.client: aiomqtt.Client | None = None
        self._new = asyncio.Event()

    async def run(self) -> None:
        i = 0
        while True:
            host, port = self.brokers[i].rsplit(":", 1)
            ident = client_id_for("test-sub", i)
            client = aiomqtt.Client(host, int(port), protocol=V311, identifier=ident, timeout=5)
            try:
                async with client as c:
                    await c.subscribe("watchd/#", qos=1)
                    self.client = c
                    self.connects.append(self.brokers[i])
                    self._new.set()
                    async for m in c.messages:
                        raw = m.payload if isinstance(m.payload, bytes) else b""
                        self.messages.append((m.topic.value, json.loads(raw) if raw else None))
                        self._new.set()
            except aiomqtt.MqttError:
                self.client = None
                i = (i + 1) % len(self.brokers)
                await asyncio.sleep(0.1)

    def on(self, topic: str) -> list[Any]:
        return [p for t, p in self.messages if t == topic]

    def matching(self, pred: Callable[[str], bool]) -> list[tuple[str, Any]]:
        return [(t, p) for t, p in self.messages if pred(t)]

    async def until(self, cond: Callable[[], object], what: str, timeout: float = 20.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not cond():
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"{what}: not within {timeout:g}s; connects {self.connects}, "
                                     f"topics {[t for t, _ in self.messages][-30:]}")  # fmt: skip
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), min(left, 0.2))  # also re-checks files and logs


async def retained(broker: str, topic: str, timeout: float = 1.0) -> Any:
    """The retained message a fresh client on `broker` gets for `topic` (decoded), or None."""
    host, port = broker.rsplit(":", 1)
    async with aiomqtt.Client(host, int(port), protocol=V311, identifier="test-probe", timeout=5) as c:
        await c.subscribe(topic, qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                async for m in c.messages:
                    raw = m.payload if isinstance(m.payload, bytes) else b""
                    return json.loads(raw) if raw else None
    return None


async def poll_retained(broker: str, topic: str, status: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while ((got := await retained(broker, topic, 0.3)) or {}).get("status") != status:
        if loop.time() > deadline:
            raise AssertionError(f"{topic} on {broker}: retained {got}, not {status}")


SECRET = b"a command secret of 32 bytes....."


def write_config(root: Path, host: str, brokers: list[str], peers: str) -> Path:
    """A daemon with one check whose exit code is the content of root/code, taking signed commands
    (a QoS 1 subscription: the kind RabbitMQ 3.10 ties to a node)."""
    root.mkdir(parents=True)
    (root / "command.key").write_bytes(SECRET)
    code, plugin = root / "code", root / "check_switch"
    code.write_text("0")
    plugin.write_text(f'#!/bin/sh\nc=$(cat {code})\necho "SWITCH code $c"\nexit $c\n')
    plugin.chmod(0o755)
    cfg = root / "watchd.yaml"
    cfg.write_text(
        f"host: {host}\ndata_dir: {root / 'data'}\napi: {{enabled: false}}\n"
        "log: {level: info, format: json}\n"
        "defaults: {interval: 0.2s, retry_interval: 0.2s, max_attempts: 1}\n"
        f"mqtt: {{brokers: {json.dumps(brokers)}, protocol: 3.1.1, heartbeat_interval: 1s,"
        f" reconnect: {{min: 0.1s, max: 1s}}, peers: {peers}, command_secret_file: command.key}}\n"
        f"checks:\n  switch: {{command: [{plugin}]}}\n"
    )
    return cfg


async def start_console(root: Path, brokers: list[str]) -> ConsoleServer:
    """`watchd console` on the cluster, in-process: both nodes, MQTT 3.1.1, login by proxy header."""
    cfg = root / "console.yaml"
    await asyncio.to_thread(root.mkdir, parents=True)
    await asyncio.to_thread(
        cfg.write_text,
        f"console: {{listen: 127.0.0.1:0, database: {root / 'console.db'}}}\n"
        f"mqtt: {{brokers: {json.dumps(brokers)}, protocol: 3.1.1, heartbeat_interval: 1s,"
        " reconnect: {min: 0.1s, max: 1s}}\n"
        "auth: {proxy_header: X-User, trusted_proxies: [127.0.0.1/32], proxy_auto_viewer: true}\n",
    )
    console = ConsoleServer(console_config.load(str(cfg)))
    await console.start()
    return console


def connections(log: Path) -> list[tuple[str, str]]:
    """(broker, client id) of the daemon's "mqtt connected" log lines, in order."""
    out = []
    for line in log.read_text().splitlines() if log.exists() else []:
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if entry.get("event") == "mqtt connected":
                out.append((entry["broker"], entry["client_id"]))
    return out


def connected_to(log: Path) -> list[str]:
    return [broker for broker, _ in connections(log)]


def incidents(root: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(root / "data" / "watchd.db", timeout=5)
    try:
        return db.execute("SELECT check_name, status FROM incidents ORDER BY id").fetchall()
    finally:
        db.close()


async def test_daemon_fails_over_to_the_other_node_without_duplicates(
    tmp_path: Path, cluster: RabbitCluster
) -> None:
    a, b = cluster.brokers("a", "b")
    sub = FailoverSubscriber([a, b])
    sub_task = asyncio.ensure_future(sub.run())
    procs: list[asyncio.subprocess.Process] = []
    roots = {"web01": tmp_path / "web01", "web02": tmp_path / "web02"}
    console: ConsoleServer | None = None
    try:
        await sub.until(lambda: sub.connects == [a], "subscriber on node a")
        console = await start_console(tmp_path / "console", [a, b])
        # web01 prefers node a; web02 prefers node b and watches the fleet (a lost web01 would be its
        # fleet.web01 incident).
        configs = {
            "web01": write_config(roots["web01"], "web01", [a, b], peers="none"),
            "web02": write_config(roots["web02"], "web02", [b, a], peers="all"),
        }
        for host, cfg in configs.items():
            log = (roots[host] / "log").open("wb")
            procs.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "watchd", "run", "--config", str(cfg), stdout=log, stderr=log
            ))  # fmt: skip
        logs = {host: roots[host] / "log" for host in roots}
        state = "watchd/web01/check/switch/state"

        def online(host: str) -> bool:
            return any(p and p["status"] == "online" for p in sub.on(f"watchd/{host}/status"))

        await sub.until(lambda: online("web01") and online("web02") and sub.on(state), "both daemons up")
        assert connected_to(logs["web01"]) == [a]
        assert set(connected_to(logs["web02"])) == {b}
        assert sub.on(state)[-1]["hard_state"] == "OK"

        killed = len(sub.messages)
        cluster.kill("a")
        await sub.until(lambda: connected_to(logs["web01"]) == [a, b], "web01 reconnected to node b")
        await sub.until(lambda: sub.connects == [a, b], "subscriber reconnected to node b")
        # Its will died with node a, so nobody said offline; web01 said online again on node b, whose
        # own retained store has it now (a probe on the exact topic; see the limits test).
        statuses = [p["status"] for t, p in sub.messages[killed:] if t == "watchd/web01/status"]
        assert "offline" not in statuses, statuses
        await poll_retained(b, "watchd/web01/status", "online")

        mark = len(sub.messages)
        (roots["web01"] / "code").write_text("2")

        def after(topic_pred: Callable[[str], bool]) -> list[tuple[str, Any]]:
            return [(t, p) for t, p in sub.messages[mark:] if topic_pred(t)]

        def criticals() -> list[Any]:
            return [p for t, p in after(lambda t: t == "watchd/web01/check/switch/result")
                    if p["state"] == "CRITICAL"]  # fmt: skip

        # Progress, not a sleep: five more CRITICAL results after the change, and five heartbeats of
        # web02 (more than its 3 s peer_timeout since the kill), give a duplicate time to show.
        await sub.until(lambda: len(criticals()) >= 5, "web01 CRITICAL results")
        await sub.until(lambda: len(after(lambda t: t == "watchd/web02/heartbeat")) >= 5, "web02 heartbeats")

        hard = [p["hard_state"] for p in sub.on(state)]
        changes = [s for i, s in enumerate(hard) if i == 0 or s != hard[i - 1]]
        assert changes == ["OK", "CRITICAL"], hard  # exactly one state change
        # Republished copies (the console's resync on node b) repeat the state, never change it.
        assert {p["hard_state"] for t, p in after(lambda t: t == state)} == {"CRITICAL"}
        incident_msgs = [(t, p) for t, p in sub.matching(lambda t: "/incident/" in t) if p]
        assert {t for t, _ in incident_msgs} == {f"watchd/web01/incident/{incident_msgs[0][1]['id']}"}
        assert {(p["id"], p["opened_at"]) for _, p in incident_msgs if p["status"] == "open"} == {
            (incident_msgs[0][1]["id"], incident_msgs[0][1]["opened_at"])
        }  # one incident, however often its snapshot went out
        assert incidents(roots["web01"]) == [("switch", "open")]  # one incident in the host store
        assert incidents(roots["web02"]) == []  # no fleet.web01: the failover was not a dead peer
        assert set(connected_to(logs["web02"])) == {b}  # node b never went away
        assert connections(logs["web01"]) == [(a, "watchd-web01"), (b, "watchd-web01@2")]

        # The console failed over as well, and saw the change once: one state change, one incident.
        assert console.subscriber.connection.broker == b
        await sub.until(lambda: console.view.hosts["web01"].incidents, "the console has the incident")
        console.history.flush()
        seen = console.db.execute(
            "SELECT hard_state FROM state_changes WHERE host = 'web01' AND check_name = 'switch' ORDER BY at"
        ).fetchall()
        assert seen == [("OK",), ("CRITICAL",)]
        rows = console.db.execute("SELECT host, check_name FROM incidents").fetchall()
        assert rows == [("web01", "switch")]
        assert list(console.view.hosts["web01"].incidents) == [incident_msgs[0][1]["id"]]
        assert console.view.hosts["web02"].checks["switch"].hard_state == "OK"

        # web01's QoS 1 subscription (commands) works on node b: a signed `run` is answered.
        assert sub.client is not None
        command = sign(SECRET, "web01", "run", {"check": "switch"}, time.time())
        await sub.client.publish("watchd/web01/command/run", command, qos=1)
        await sub.until(lambda: sub.on("watchd/web01/command_result"), "the command answered")
        assert [(p["command"], p["ok"]) for p in sub.on("watchd/web01/command_result")] == [("run", True)]

        # The control: web02 was watching web01 all along. web01 dies now, on a live node, so node b
        # publishes its will (offline, connection lost) and web02 opens fleet.web01 at once.
        procs[0].kill()
        await procs[0].wait()
        fleet = [("fleet.web01", "open")]
        await sub.until(lambda: incidents(roots["web02"]) == fleet, "fleet.web01 incident")

        def lost() -> list[str]:
            return [p["reason"] for p in sub.on("watchd/web01/status") if p and p["status"] == "offline"]

        # web02 may hear the will before this subscriber does (another node, another queue)
        await sub.until(lost, "web01's will")
        assert lost() == ["connection lost"]
        # ... and the "." of its check name arrived as a topic level (see the limits test).
        await sub.until(lambda: sub.on("watchd/web02/check/fleet/web01/state"), "the mangled fleet topic")
    finally:
        if console is not None:
            await console.stop()
        sub_task.cancel()
        await asyncio.gather(sub_task, return_exceptions=True)
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_what_rabbitmq_3_10_does_differently(cluster: RabbitCluster) -> None:
    """The limits docs/mqtt.md lists, on the real broker; when a RabbitMQ upgrade changes one, this
    fails and the doc needs the same change."""
    a, b = cluster.brokers("a", "b")
    host, port = a.rsplit(":", 1)
    topic, body = "watchd/web01/status", {"status": "online"}
    async with aiomqtt.Client(host, int(port), protocol=V311, identifier="test-pub") as pub:
        await pub.publish(topic, json.dumps(body), qos=1, retain=True)
        # Retained messages: stored on the node that took them (after the PUBACK: the store is written
        # asynchronously), handed out for exact topics only.
        await poll_retained(a, topic, "online")
        assert await retained(b, topic) is None  # not replicated to the other node
        assert await retained(a, "watchd/+/status") is None  # no retained for wildcard filters
        assert await retained(a, "watchd/#") is None

        # Live messages cross nodes; a "." in a topic level becomes a level separator ("/" and "." are
        # swapped to make AMQP routing keys and back); QoS 2 is granted as 1; overlapping filters get
        # a copy each.
        bh, bp = b.rsplit(":", 1)
        async with aiomqtt.Client(bh, int(bp), protocol=V311, identifier="test-sub") as sub:
            granted = await sub.subscribe("watchd/#", qos=2)
            assert [rc.value for rc in granted] == [1]  # type: ignore[union-attr]
            await sub.subscribe("watchd/+/heartbeat", qos=0)
            await pub.publish("watchd/web01.example.com/heartbeat", b"{}", qos=1)
            await pub.publish("watchd/web01/heartbeat", b"{}", qos=1)
            got: list[tuple[str, int]] = []
            async with asyncio.timeout(10):
                async for msg in sub.messages:
                    got.append((msg.topic.value, msg.qos))
                    if len(got) == 3:
                        break
            assert sorted(got) == [
                ("watchd/web01/example/com/heartbeat", 1),  # only "#" matches the mangled topic
                ("watchd/web01/heartbeat", 0),
                ("watchd/web01/heartbeat", 1),
            ]

    # MQTT 5 is not spoken, and not refused either: no CONNACK, so a client times out (no fallback).
    with pytest.raises(aiomqtt.MqttError, match="timed out"):
        async with aiomqtt.Client(host, int(port), protocol=aiomqtt.ProtocolVersion.V5, timeout=3):
            pass
