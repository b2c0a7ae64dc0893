"""The bus against a real mosquitto: layout and retained state, TLS and passwords, the last will of a
killed process, a broker restart mid-stream, the bounded buffer, the fleet election, signed commands."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from mqtt_helpers import Runner, eventually

from servers.mosquitto import Mosquitto, available, start_mosquitto
from watchd.bus import Bus
from watchd.bus.commands import sign
from watchd.bus.config import MqttConfig, TlsConfig
from watchd.core.model import (
    ChangeKind,
    CheckResult,
    CheckStatus,
    Incident,
    State,
    StateChange,
    StateType,
)
from watchd.pipeline import Batch, Event
from watchd.runtime.clock import SystemClock

pytestmark = pytest.mark.slow


async def nothing(result: CheckResult) -> None:
    pass


def batch(
    check: str, state: State, changed: bool = True, incident: Incident | None = None, summary: str = ""
) -> Batch:
    """What the pipeline hands the BatchPublisher: one result, its status, maybe a change and an incident."""
    now = time.time()
    result = CheckResult(check, state, summary or check, started_at=now)
    status = CheckStatus(check, state, StateType.HARD, 1, state, last_check=now)
    changes = []
    if changed:
        kind = ChangeKind.HARD_PROBLEM if state.is_problem else ChangeKind.HARD_RECOVERY
        changes = [StateChange(check, kind, State.OK, state, StateType.HARD, 1, now, result)]
    b = Batch([Event(result, None, status, changes)], now)
    if incident is not None:
        b.incidents.append(("open", incident))
    return b


def make_bus(port: int, host: str = "web-1", **kw: Any) -> Bus:
    sleep = kw.pop("sleep", asyncio.sleep)
    submit = kw.pop("submit", nothing)
    commands = kw.pop("commands", None)
    cfg = MqttConfig(host="127.0.0.1", port=port, heartbeat_interval=kw.pop("heartbeat_interval", 0.2), **kw)
    return Bus(cfg, host, "1.2.3", SystemClock(), submit, commands, random.Random(1), sleep=sleep)


class Gate:
    """An injected backoff sleep that holds reconnects until the test opens it."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.waiting = 0

    async def __call__(self, delay: float) -> None:
        self.waiting += 1
        await self.open.wait()


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_layout_retained_state_and_clean_stop(broker: Mosquitto, collector: Any, protocol: str) -> None:
    """Status and state are retained (a late subscriber gets them), results and incidents are live only,
    QoS 1 for state and incidents, and a clean stop leaves `offline` (shutdown) retained."""
    bus = make_bus(broker.port, protocol=protocol)
    await bus.start()
    await eventually(lambda: bus.connected, what="connected")
    inc = Incident("web-1", "disk/var", "P2", "medium", "high", State.CRITICAL, "full", 1.0, 1.0, id=7)
    async with collector("watchd/#") as live:
        bus.publisher.publish(batch("disk/var", State.CRITICAL, incident=inc))
        bus.publisher.publish(batch("disk/var", State.CRITICAL, changed=False))  # a result, no state
        await live.wait_for(lambda m: m.topic.value.endswith("/result"), count=2)
        await live.wait_for(lambda m: m.topic.value == "watchd/web-1/incident/7")
    async with collector("watchd/#") as late:
        status, state = await asyncio.gather(
            late.wait_for(lambda m: m.topic.value == "watchd/web-1/status"),
            late.wait_for(lambda m: m.topic.value == "watchd/web-1/check/disk%2Fvar/state"),
        )
        await late.wait_for(lambda m: m.topic.value == "watchd/web-1/heartbeat", count=2)
    assert status[0].retain
    assert state[0].retain
    assert state[0].qos == 1
    doc = json.loads(status[0].payload)
    assert (doc["schema"], doc["status"], doc["version"]) == ("watchd.status/v1", "online", "1.2.3")
    assert doc["started_at"] == bus.started_at
    st = json.loads(state[0].payload)
    assert (st["schema"], st["check"], st["hard_state"]) == ("watchd.state/v1", "disk/var", "CRITICAL")
    assert not any(m.topic.value.endswith(("/result", "/incident/7")) for m in late.messages)  # not retained
    results = [m for m in live.messages if m.topic.value.endswith("/result")]
    assert [m.qos for m in results] == [0, 0]
    assert [json.loads(m.payload)["state"] for m in results] == ["CRITICAL", "CRITICAL"]
    incident = next(m for m in live.messages if "/incident/" in m.topic.value)
    assert incident.qos == 1
    assert json.loads(incident.payload)["action"] == "open"
    assert len([m for m in live.messages if m.topic.value.endswith("/state")]) == 1  # changes only
    await bus.stop()
    assert not bus.connected
    async with collector("watchd/web-1/status") as after:
        (msg,) = await after.wait_for(lambda m: True)
    assert json.loads(msg.payload)["status"] == "offline"
    assert json.loads(msg.payload)["reason"] == "shutdown"


async def test_tls_and_password(tmp_path: Path) -> None:
    """TLS with a private CA plus username/password_file; a wrong password never connects and keeps
    retrying with backoff."""
    if available():
        pytest.skip(available())
    with start_mosquitto(tmp_path / "b", users={"web-1": "s3cret"}, tls=True) as b:
        assert b.pki is not None
        (tmp_path / "pw").write_text("s3cret\n")
        (tmp_path / "bad").write_text("wrong\n")
        tls = TlsConfig(ca_file=str(b.pki.ca))
        bus = make_bus(b.port, tls=tls, username="web-1", password_file=str(tmp_path / "pw"))
        wrong = make_bus(
            b.port, host="web-2", tls=tls, username="web-1", password_file=str(tmp_path / "bad"),
            reconnect_min=0.05, reconnect_max=0.1,
        )  # fmt: skip
        await bus.start()
        await wrong.start()
        await eventually(lambda: bus.connected, what="connected over TLS")
        await eventually(lambda: wrong.stats.reconnects >= 3, what="retries")
        assert not wrong.connected
        ctx = ssl.create_default_context(cafile=str(b.pki.ca))
        async with aiomqtt.Client(
            "127.0.0.1", b.port, username="web-1", password="s3cret", tls_context=ctx, identifier="probe"
        ) as c:
            await c.subscribe("watchd/+/status", qos=1)
            msg = await asyncio.wait_for(anext(aiter(c.messages)), 5)
        assert msg.topic.value == "watchd/web-1/status"
        assert json.loads(msg.payload)["status"] == "online"
        await wrong.stop()
        await bus.stop()


async def test_last_will_on_kill_9_and_offline_on_sigterm(
    broker: Mosquitto, collector: Any, runners: Callable[[str, dict[str, Any]], Runner]
) -> None:
    """kill -9 of a real process: the broker publishes its will (offline, connection lost, retained);
    SIGTERM: the process says offline (shutdown) itself."""
    mqtt = {"host": "127.0.0.1", "port": broker.port, "heartbeat_interval": 0.5}
    killed, stopped = runners("p1", mqtt), runners("p2", mqtt)
    killed.wait_for(lambda line: line.get("event") == "connected")
    stopped.wait_for(lambda line: line.get("event") == "connected")
    async with collector("watchd/+/status") as c:
        await c.wait_for(lambda m: b'"online"' in m.payload, count=2)
        killed.kill()
        stopped.signal(signal.SIGTERM)
        await c.wait_for(lambda m: b'"offline"' in m.payload, count=2, timeout=5)
    stopped.wait_for(lambda line: line.get("event") == "stopped")
    assert c.on("watchd/p1/status")[-1]["reason"] == "connection lost"
    assert c.on("watchd/p2/status")[-1]["reason"] == "shutdown"
    async with collector("watchd/+/status") as late:  # and both stay retained
        await late.wait_for(lambda m: m.retain and b'"offline"' in m.payload, count=2)


async def test_broker_restart_loses_no_state_and_keeps_order(broker: Mosquitto, collector: Any) -> None:
    """States and incidents made while the broker is down are buffered (states coalesced per check)
    and published in order after it is back; the status is announced again (the broker forgot it)."""
    gate = Gate()
    bus = make_bus(broker.port, sleep=gate, buffer_size=1000)
    await bus.start()
    await eventually(lambda: bus.connected)
    checks = [f"c{i}" for i in range(5)]
    for c in checks:
        bus.publisher.publish(batch(c, State.OK))
    await eventually(lambda: bus.stats.buffered == 0)
    broker.stop()
    await eventually(lambda: not bus.connected and gate.waiting > 0, what="disconnect noticed")
    final: dict[str, State] = {}
    for n in range(3):  # three rounds of changes while down; the last round in reverse order
        for c in checks if n < 2 else reversed(checks):
            state = [State.WARNING, State.CRITICAL, State.OK][(n + checks.index(c)) % 3]
            inc = Incident("web-1", c, "P3", "low", "low", state, "x", 1.0, 1.0, id=100 * n + checks.index(c))
            bus.publisher.publish(batch(c, state, incident=inc))
            final[c] = state
    assert bus.stats.buffered == 5 + 15 + 15  # states coalesced to one per check; results; incidents
    assert bus.stats.coalesced == 10
    broker.start()
    async with collector("watchd/#") as c:
        gate.open.set()
        await c.wait_for(lambda m: m.topic.value.endswith("/state"), count=5)
        await c.wait_for(lambda m: "/incident/" in m.topic.value, count=15)
        await eventually(lambda: bus.stats.buffered == 0)
    states = [(json.loads(m.payload)["check"], json.loads(m.payload)["hard_state"])
              for m in c.messages if m.topic.value.endswith("/state")]  # fmt: skip
    assert states == [(ch, final[ch].name) for ch in reversed(checks)]  # newest each, in order of the last
    incidents = [json.loads(m.payload)["id"] for m in c.messages if "/incident/" in m.topic.value]
    assert incidents == [0, 1, 2, 3, 4, 100, 101, 102, 103, 104, 204, 203, 202, 201, 200]
    assert any(m.topic.value == "watchd/web-1/status" and b'"online"' in m.payload for m in c.messages)
    assert bus.stats.reconnects >= 1
    await bus.stop()


async def test_bounded_buffer_while_the_broker_is_down(tmp_path: Path, collector: Any) -> None:
    """Broker down from the start: oldest results are dropped and counted, states survive; what is
    left goes out in order when the broker appears."""
    if available():
        pytest.skip(available())
    with start_mosquitto(tmp_path / "b") as b:
        b.stop()
        gate = Gate()
        bus = make_bus(b.port, sleep=gate, buffer_size=10)
        await bus.start()
        await eventually(lambda: gate.waiting > 0)
        bus.publisher.publish(batch("s1", State.CRITICAL))
        for n in range(50):  # the first also announces the state of "load"
            bus.publisher.publish(batch("load", State.OK, changed=False, summary=f"n={n}"))
        bus.publisher.publish(batch("s2", State.WARNING))
        stats = bus.stats  # 55 messages into 10: 3 states kept, the 7 newest of 52 results
        assert (stats.buffered, stats.dropped_results, stats.dropped) == (10, 45, 45)
        b.start()
        async with collector("watchd/#", port=b.port) as c:
            gate.open.set()
            await eventually(lambda: bus.stats.buffered == 0 and bus.connected)
            await c.wait_for(lambda m: m.topic.value.endswith("/state"), count=3)
        await bus.stop()
    sent = [
        "/".join(m.topic.value.split("/")[3:5])
        + ("" if m.topic.value.endswith("state") else " " + json.loads(m.payload)["summary"])
        for m in c.messages
        if "/check/" in m.topic.value
    ]
    assert sent == [
        "s1/state", "load/state", *[f"load/result n={n}" for n in range(44, 50)], "s2/result s2", "s2/state"
    ]  # fmt: skip


def fleet_cfg(port: int, peers: str | None = "all") -> dict[str, Any]:
    cfg: dict[str, Any] = {"host": "127.0.0.1", "port": port, "heartbeat_interval": 0.3, "peer_timeout": 1.2}
    if peers:
        cfg["peers"] = peers
    return cfg


def criticals(runners: list[Runner], check: str) -> list[str]:
    return [r.host for r in runners for _ in r.submits(check, "CRITICAL")]


def start_fleet(runners: Callable[[str, dict[str, Any]], Runner], port: int) -> tuple[Runner, Runner, Runner]:
    peer = runners("p1", fleet_cfg(port, None))
    w1, w2 = runners("w1", fleet_cfg(port)), runners("w2", fleet_cfg(port))
    for r in (peer, w1, w2):
        r.wait_for(lambda line: line.get("event") == "connected")
    return peer, w1, w2


async def test_two_watchers_one_incident_and_takeover(
    broker: Mosquitto, runners: Callable[[str, dict[str, Any]], Runner]
) -> None:
    """Two watchers, a third host killed: exactly one fleet.p1 CRITICAL across both (from its last
    will, well under a second); kill the one that reported and the other reports both."""
    peer, w1, w2 = start_fleet(runners, broker.port)
    await asyncio.sleep(0.5)
    t0 = time.time()
    peer.kill()
    first = w1 if _wait_any([w1, w2], "fleet.p1") is w1 else w2
    other = w2 if first is w1 else w1
    detected = first.submits("fleet.p1", "CRITICAL")[0]["t"] - t0
    assert detected < 1.0
    await asyncio.sleep(2.0)  # well past peer_timeout: the other one must stay quiet
    assert criticals([w1, w2], "fleet.p1") == [first.host]
    assert criticals([w1, w2], f"fleet.{other.host}") == []
    first.kill()
    other.wait_for(lambda line: line.get("check") == f"fleet.{first.host}" and line["state"] == "CRITICAL")
    other.wait_for(lambda line: line.get("check") == "fleet.p1" and line["state"] == "CRITICAL")
    assert criticals([other], "fleet.p1") == [other.host]


async def test_silent_peer_one_incident_and_recovery(
    broker: Mosquitto, runners: Callable[[str, dict[str, Any]], Runner]
) -> None:
    """A peer that stops without a will (SIGSTOP: the broker keeps its connection) times out at every
    watcher; still exactly one CRITICAL. SIGCONT: the recovery reaches both."""
    peer, w1, w2 = start_fleet(runners, broker.port)
    await asyncio.sleep(0.5)
    peer.signal(signal.SIGSTOP)
    first = _wait_any([w1, w2], "fleet.p1", timeout=5)
    await asyncio.sleep(1.5)
    assert criticals([w1, w2], "fleet.p1") == [first.host]
    assert "no heartbeat" in first.submits("fleet.p1", "CRITICAL")[0]["summary"]
    peer.signal(signal.SIGCONT)
    for w in (w1, w2):
        w.wait_for(lambda line: line.get("check") == "fleet.p1" and line["state"] == "OK", timeout=5)
    assert criticals([w1, w2], "fleet.p1") == [first.host]


def _wait_any(ws: list[Runner], check: str, timeout: float = 5.0) -> Runner:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for w in ws:
            if w.submits(check, "CRITICAL"):
                return w
        ws[0].drain(0.02)
    raise AssertionError(f"no {check} CRITICAL from {[w.host for w in ws]}")


class Handler:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def run_now(self, check: str) -> bool:
        self.calls.append(("run", check))
        return True

    async def ack(self, incident_id: int, by: str, comment: str) -> bool:
        self.calls.append(("ack", incident_id, by, comment))
        return True

    async def silence(self, check: str, until: float, comment: str, by: str = "mqtt") -> bool:
        self.calls.append(("silence", check, round(until - time.time())))
        return True

    async def downtime(
        self, scope: str, target: str, start: float, until: float, comment: str, by: str
    ) -> bool:
        self.calls.append(("downtime", scope, target, round(until - start), by))
        return True


async def test_signed_commands(broker: Mosquitto, collector: Any, tmp_path: Path) -> None:
    """Forged, unsigned, stale and replayed commands are refused and answered; valid ones dispatched."""
    secret = b"a-long-shared-secret-for-tests"
    (tmp_path / "key").write_bytes(secret + b"\n")
    handler = Handler()
    bus = make_bus(broker.port, commands=handler, command_secret_file=str(tmp_path / "key"))
    now = time.time()
    valid = sign(secret, "web-1", "ack", {"incident": 7, "by": "alice", "comment": "mine"}, now)
    sends = [
        ("run", sign(b"not-the-secret-at-all", "web-1", "run", {"check": "load"}, now), "bad signature"),
        ("run", json.dumps({"body": "{}"}).encode(), "unsigned"),
        ("run", sign(secret, "web-1", "run", {"check": "load"}, now - 120), "stale"),
        ("ack", valid, "done"),
        ("ack", valid, "replayed"),
        ("run", sign(secret, "web-1", "run", {"check": "load"}, now), "done"),
        ("silence", sign(secret, "web-1", "silence", {"check": "load", "for": "1h"}, now), "done"),
        ("run", sign(secret, "db-1", "run", {"check": "load"}, now), "wrong target"),
    ]
    async with collector("watchd/web-1/command_result") as c:
        client = c.client
        retained = sign(secret, "web-1", "run", {"check": "retained"}, now)
        await client.publish("watchd/web-1/command/run", retained, qos=1, retain=True)
        await bus.start()
        await eventually(lambda: bus.connected)
        await client.publish("watchd/web-1/command/run", b"", qos=1, retain=True)  # clear: ignored too
        for verb, payload, _ in sends:
            await client.publish(f"watchd/web-1/command/{verb}", payload, qos=1)
        await c.wait_for(lambda m: True, count=len(sends))
        await asyncio.sleep(0.2)
    answers = [json.loads(m.payload) for m in c.messages]
    assert [a["reason"].split(":")[0] for a in answers] == [want for _, _, want in sends]
    assert [a["ok"] for a in answers] == [want == "done" for _, _, want in sends]
    assert handler.calls == [("ack", 7, "alice", "mine"), ("run", "load"), ("silence", "load", 3600)]
    assert bus.stats.commands_refused == 5
    await bus.stop()
