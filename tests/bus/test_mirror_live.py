"""The retained snapshots with the real daemon (`python -m watchd run`), a real mosquitto and a real
webhook receiver: what a console that connects late finds at the broker.

- a failing check's incident is retained with its priority and deliveries (the webhook's included);
- a signed MQTT ack republishes it with acked_by; the recovery publishes it resolved once and clears it;
- a downtime added with the CLI (another process) and a silence added through the HTTP API show in the
  retained maintenance snapshot;
- a broker restart without persistence: the daemon puts status, states, incidents and maintenance back;
- a snapshot left at the broker for an incident resolved while the daemon was down is cleared on start.

"What the broker holds" is read by a fresh client that subscribes and then publishes a marker to
itself: the retained messages arrive before the marker (one client's queue is in order).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest
from aiohttp import web

from servers.http import serve
from servers.mosquitto import Mosquitto, free_port
from watchd.bus.commands import sign

pytestmark = pytest.mark.slow

SECRET = b"a-long-shared-secret-for-the-mirror-tests"
BASE = "watchd/web01"


class Webhook:
    """The on-call contact's webhook receiver: every POST recorded."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append(await request.json())
        return web.Response(text="ok")


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    rec = Webhook()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner, base = await serve(app)
    rec.url = f"{base}/hook"
    yield rec
    await runner.cleanup()


class Host:
    """One watchd host: a config, a plugin whose exit code is a file, the daemon as a subprocess."""

    def __init__(self, root: Path, port: int, hook: str) -> None:
        self.root = root
        self.api_port = free_port()
        (root / "api.token").write_text("a-token-for-the-api-writes")
        self.code = root / "code"
        self.code.write_text("0")
        plugin = root / "check_switch"
        plugin.write_text(f'#!/bin/sh\nc=$(cat {self.code})\necho "SWITCH code $c"\nexit $c\n')
        plugin.chmod(0o755)
        key = root / "command.key"
        key.write_bytes(SECRET)
        self.cfg = root / "watchd.yaml"
        hour = (time.gmtime().tm_hour + 6) % 24  # a daily window that is not running now
        self.cfg.write_text(
            f"host: web01\ndata_dir: {root / 'data'}\n"
            f"api: {{listen: 127.0.0.1, port: {self.api_port}, token_file: {root / 'api.token'}}}\n"
            "log: {level: info, format: json}\n"
            "defaults: {interval: 0.2s, retry_interval: 0.2s, max_attempts: 1}\n"
            f"mqtt: {{host: 127.0.0.1, port: {port}, heartbeat_interval: 1s,"
            f" reconnect: {{min: 0.1s, max: 0.5s}}, command_secret_file: {key}}}\n"
            f"checks:\n  switch: {{command: [{plugin}], notify: [ops], impact: high, urgency: high}}\n"
            f'contacts:\n  ops: {{kind: oncall, webhook: {{url: "{hook}", format: json}}}}\n'
            "maintenance:\n  windows:\n"
            f"    patchday: {{start: '{hour:02d}:00', duration: 1h, timezone: UTC, checks: [switch],"
            " comment: patch day}\n"
        )
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        log = (self.root / "daemon.log").open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "watchd", "run", "--config", str(self.cfg), stdout=log, stderr=log
        )

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    async def cli(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "watchd", *args, "--config", str(self.cfg),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
        assert proc.returncode == 0, out.decode()
        return out.decode()

    def db(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(self.root / "data" / "watchd.db", timeout=5)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()


@pytest.fixture
async def host(tmp_path: Path, broker: Mosquitto, webhook: Webhook) -> AsyncIterator[Host]:
    h = Host(tmp_path, broker.port, webhook.url)
    yield h
    if h.proc is not None and h.proc.returncode is None:
        h.proc.kill()
        await h.proc.wait()


async def retained(port: int, topic: str) -> dict[str, Any]:
    """What the broker holds under the filter `topic`: decoded payloads by topic."""
    marker = f"test/marker/{secrets.token_hex(4)}"
    out: dict[str, Any] = {}
    async with aiomqtt.Client("127.0.0.1", port) as c:
        await c.subscribe([(topic, 1), (marker, 1)])
        await c.publish(marker, b"end", qos=1)
        async with asyncio.timeout(10):
            async for m in c.messages:
                if m.topic.value == marker:
                    return out
                assert m.retain, f"a live message on {m.topic.value} before the marker"
                out[m.topic.value] = json.loads(m.payload)  # type: ignore[arg-type]
    raise AssertionError("marker never came back")


async def until_retained(
    port: int, topic: str, pred: Callable[[dict[str, Any]], bool], timeout: float = 20.0, what: str = ""
) -> dict[str, Any]:
    """Ask the broker again and again until what it holds satisfies `pred`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        held = await retained(port, topic)
        if pred(held):
            return held
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what or topic}: the broker holds {json.dumps(held)[:2000]}")
        await asyncio.sleep(0.1)


def settled(doc: dict[str, Any]) -> bool:
    return bool(doc["deliveries"]) and all(d["status"] == "done" for d in doc["deliveries"])


async def test_an_incident_is_retained_with_its_deliveries_acked_over_mqtt_and_cleared(
    host: Host, broker: Mosquitto, webhook: Webhook, collector: Any
) -> None:
    host.code.write_text("2")
    await host.start()
    held = await until_retained(
        broker.port, f"{BASE}/incident/+", lambda h: len(h) == 1 and settled(next(iter(h.values()))),
        what="the open incident with its deliveries done",
    )  # fmt: skip
    ((topic, doc),) = held.items()
    ((iid, priority, key),) = host.db("SELECT id, priority, 'watchd-web01-switch-' || id FROM incidents")
    assert topic == f"{BASE}/incident/{iid}"
    assert doc["schema"] == "watchd.incident/v1"
    assert (doc["id"], doc["status"], doc["action"], doc["priority"]) == (iid, "open", "open", priority)
    assert (doc["check"], doc["state"], doc["acked_by"]) == ("switch", "CRITICAL", None)
    assert {(d["channel"], d["kind"]) for d in doc["deliveries"]} == {
        ("ticket:builtin", "open"),
        ("notify:ops:webhook", "open"),
    }
    assert [(t["contact"], t["medium"]) for t in doc["told"]] == [("ops", "webhook")]
    assert doc["ticket"] == {"channel": "ticket:builtin", "ref": key}
    assert len(webhook.calls) == 1  # the webhook really got it

    async with collector(f"{BASE}/incident/{iid}", f"{BASE}/command_result") as live:
        body = sign(SECRET, "web01", "ack", {"incident": iid, "by": "alice", "comment": "mine"}, time.time())
        await live.client.publish(f"{BASE}/command/ack", body, qos=1)
        (answer,) = await live.wait_for(lambda m: m.topic.value.endswith("/command_result"))
        assert json.loads(answer.payload)["ok"], answer.payload
        await live.wait_for(lambda m: m.topic.value == topic and b'"acked_by":"alice"' in m.payload)
        acked = await until_retained(
            broker.port, topic, lambda h: h.get(topic, {}).get("acked_by") == "alice", what="the ack"
        )
        assert acked[topic]["action"] == "ack"

        host.code.write_text("0")
        await live.wait_for(lambda m: m.topic.value == topic and m.payload == b"", timeout=20)
    seen = [json.loads(m.payload) if m.payload else None for m in live.messages if m.topic.value == topic]
    assert [d["status"] if d else None for d in seen][-2:] == ["resolved", None]  # resolved, then cleared
    assert [d["status"] for d in seen if d].count("resolved") == 1
    assert (seen[-2]["action"], seen[-2]["acked_by"]) == ("resolve", "alice")
    assert not any(m.retain for m in live.messages[1:])  # the first was the retained snapshot
    assert await retained(broker.port, f"{BASE}/incident/+") == {}  # a new console sees nothing of it
    await host.stop()
    assert host.proc is not None
    assert host.proc.returncode == 0


async def test_maintenance_from_the_cli_and_everything_back_after_a_broker_restart(
    host: Host, broker: Mosquitto
) -> None:
    host.code.write_text("2")
    await host.start()
    maint = f"{BASE}/maintenance"
    held = await until_retained(broker.port, maint, lambda h: maint in h, what="the maintenance snapshot")
    doc = held[maint]
    assert doc["schema"] == "watchd.maintenance/v1"
    assert {w["source"] for w in doc["windows"]} == {"config"}
    scope = {"host": False, "checks": ["switch"], "tags": [], "covers": ["switch"]}
    assert doc["windows"][0]["scope"] == scope
    assert doc["windows"][0]["comment"] == "patch day"
    assert len(doc["windows"]) == 14  # daily, for 14 days
    assert not any(w["active"] for w in doc["windows"])

    await host.cli("downtime", "add", "--start", "now", "--for", "2h", "--comment", "kernel update")
    held = await until_retained(
        broker.port, maint, lambda h: any(w["source"] == "downtime" for w in h[maint]["windows"]),
        timeout=10, what="the downtime from the CLI",
    )  # fmt: skip
    (downtime,) = [w for w in held[maint]["windows"] if w["source"] == "downtime"]
    assert (downtime["comment"], downtime["active"]) == ("kernel update", True)
    assert downtime["scope"] == {"host": True, "checks": [], "tags": [], "covers": []}
    assert downtime["end"] - downtime["start"] == 7200
    # The API writes on the daemon's own connection (no data_version change): it kicks the mirror.
    async with aiohttp.ClientSession() as http:
        silence = {"check": "switch", "duration": "1h", "by": "alice", "comment": "from the api"}
        async with http.post(
            f"http://127.0.0.1:{host.api_port}/api/v1/silences", json=silence,
            headers={"Authorization": "Bearer a-token-for-the-api-writes"},
        ) as resp:  # fmt: skip
            assert resp.status == 201, await resp.text()
    held = await until_retained(
        broker.port, maint, lambda h: bool(h[maint]["silences"]), timeout=5, what="the silence from the API"
    )  # well before the 30 s sweep
    (silenced,) = held[maint]["silences"]
    assert (silenced["check"], silenced["by"], silenced["active"]) == ("switch", "alice", True)

    want = (f"{BASE}/status", f"{BASE}/check/switch/state", maint)
    before = await until_retained(
        broker.port, f"{BASE}/#", lambda h: all(t in h for t in want) and any("/incident/" in t for t in h),
        what="everything retained",
    )  # fmt: skip
    broker.stop()
    broker.start()  # no persistence: the broker has forgotten every retained message
    after = await until_retained(
        broker.port, f"{BASE}/#", lambda h: h.keys() == before.keys(), what="everything back after a restart"
    )
    assert {t: v for t, v in after.items() if "/incident/" in t or t == maint} == {
        t: v for t, v in before.items() if "/incident/" in t or t == maint
    }
    state = after[f"{BASE}/check/switch/state"]
    assert (state["check"], state["hard_state"]) == ("switch", "CRITICAL")
    assert after[f"{BASE}/status"]["status"] == "online"


async def test_a_snapshot_left_at_the_broker_is_cleared_on_the_next_start(
    host: Host, broker: Mosquitto, collector: Any
) -> None:
    """The incident is resolved with the CLI while the daemon is stopped, so nobody clears its
    retained snapshot then; the next start sees it at the broker and clears it."""
    host.code.write_text("2")
    await host.start()
    held = await until_retained(broker.port, f"{BASE}/incident/+", lambda h: len(h) == 1)
    (topic,) = held
    iid = topic.rsplit("/", 1)[1]
    await host.stop()
    host.code.write_text("0")
    await host.cli("incidents", "resolve", iid, "--by", "bob")
    assert topic in await retained(broker.port, f"{BASE}/incident/+")  # still there
    async with collector(topic) as live:
        await host.start()
        await live.wait_for(lambda m: m.payload == b"", timeout=20)
    assert json.loads(live.messages[-2].payload)["status"] == "resolved"
    assert await retained(broker.port, f"{BASE}/incident/+") == {}
    os.kill(host.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
