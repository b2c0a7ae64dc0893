"""The outbox against a real webhook receiver through an outage: the daemon in-process with a
FakeClock, a receiver that answers 503 before it answers 200, and the deliverer driven pass by pass
(`run_once`) with the clock moved to each next attempt: no sleeps.

Every operation must arrive exactly once (by op_id) and, per incident, in the order it was queued.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from watchd import config
from watchd.core.clock import FakeClock
from watchd.daemon import Daemon
from watchd.delivery import outbox
from watchd.delivery.outbox import Deliverer
from watchd.delivery.tickets import TicketIntent
from watchd.delivery.tickets.channel import TicketChannel
from watchd.delivery.tickets.webhook import WebhookBackend
from watchd.store import Store

SECRET = "webhook-outage-secret"
CHANNEL = "ticket:hook"


@dataclass
class FlakyReceiver:
    """Answers 503 to the first `failures` requests, then 200 with a ticket ref; checks signatures."""

    failures: int
    url: str = ""
    requests: list[tuple[str, str, int, int]] = field(default_factory=list)  # key, kind, op_id, status
    delivered: list[tuple[str, str, int]] = field(default_factory=list)  # key, kind, op_id of each 2xx
    refs: list[tuple[str, str, Any]] = field(default_factory=list)  # key, kind, ref the intent carried

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        ts = request.headers["X-Watchd-Timestamp"]
        mac = hmac.new(SECRET.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
        assert hmac.compare_digest("sha256=" + mac, request.headers["X-Watchd-Signature"])
        doc = json.loads(raw)
        key, kind, op_id = doc["key"], doc["kind"], doc["op_id"]
        assert request.headers["Idempotency-Key"] == f"{key}:{op_id}"
        if len(self.requests) < self.failures:
            self.requests.append((key, kind, op_id, 503))
            return web.Response(status=503, text="maintenance")
        self.requests.append((key, kind, op_id, 200))
        self.delivered.append((key, kind, op_id))
        self.refs.append((key, kind, doc["ref"]))
        return web.json_response({"ticket": f"HD-{doc['incident_id']}"})


@pytest.fixture
async def receiver() -> AsyncIterator[FlakyReceiver]:
    rec = FlakyReceiver(failures=12)
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    rec.url = f"http://{host}:{port}/hook"
    yield rec
    await runner.cleanup()


class Checks:
    """Plugin checks whose exit codes are files; not scheduled (the test runs them)."""

    def __init__(self, root: Path, names: list[str], hook_url: str) -> None:
        self.root = root
        secret = root / "hook.secret"
        secret.write_text(SECRET + "\n")
        lines = []
        for name in names:
            (root / f"{name}.code").write_text("0")
            plugin = root / f"check_{name}"
            plugin.write_text(
                f'#!/bin/sh\nc=$(cat {root / f"{name}.code"})\necho "{name} code $c"\nexit $c\n'
            )
            plugin.chmod(0o755)
            lines.append(f"  {name}: {{command: [{plugin}], impact: high, enabled: false}}\n")
        self.cfg = root / "watchd.yaml"
        self.cfg.write_text(
            f"host: web01\ndata_dir: {root / 'data'}\napi: {{enabled: false}}\n"
            f"log: {{level: warning, format: json}}\n"
            "defaults: {interval: 1h, retry_interval: 1h, max_attempts: 1, flap_detection: false}\n"
            f"checks:\n{''.join(lines)}"
            "incidents: {reopen_within: 1h}\n"
            "tickets:\n"
            "  backends:\n"
            f"    hook: {{type: webhook, url: '{hook_url}', secret_file: {secret}, timeout: 5}}\n"
            "  default: [builtin, hook]\n"
            "  base_backoff: 2s\n  max_backoff: 30s\n  alert_after: 1d\n"
        )

    def set(self, name: str, code: int) -> None:
        (self.root / f"{name}.code").write_text(str(code))


async def test_webhook_outage_delivers_every_operation_once_in_order(
    tmp_path: Path, receiver: FlakyReceiver
) -> None:
    """Incidents open, change, resolve and reopen while the receiver answers 503; passes run as the
    fake clock reaches each next attempt. Afterwards every webhook row is done, the receiver got each
    op_id exactly once, per incident in queue order, with the ref of the open passed on."""
    checks = Checks(tmp_path, ["disk", "web", "db", "mail"], receiver.url)
    clock = FakeClock()
    d = Daemon(config.load(str(checks.cfg)), str(checks.cfg), clock=clock)
    await d.start()
    # The test drives the passes; the daemon's own delivery loop would run them concurrently.
    await d.parts.deliverer.stop()
    deliverer, db = d.parts.deliverer, d.store.db
    passes = 0

    async def step(check: str, code: int) -> None:
        """One result into the pipeline, then one delivery pass, then time moves a little."""
        nonlocal passes
        checks.set(check, code)
        await d.run_check(check)
        await deliverer.run_once()
        passes += 1
        clock.advance(0.5)

    try:
        # disk: open, update (CRITICAL -> WARNING), resolve; web: open, resolve, reopen, resolve;
        # db and mail: open, resolve. Interleaved, so rows queue up behind rows still backing off.
        for check, code in [
            ("disk", 2), ("web", 2), ("db", 2), ("disk", 1), ("web", 0), ("mail", 2), ("web", 2),
            ("disk", 0), ("db", 0), ("web", 0), ("mail", 0),
        ]:  # fmt: skip
            await step(check, code)
        while (nxt := outbox.next_attempt_at(db)) is not None:
            assert passes < 100, "the outbox does not drain"
            clock.advance(max(nxt - clock.time(), 0.0))
            await deliverer.run_once()
            passes += 1
    finally:
        await d.stop()

    con = sqlite3.connect(tmp_path / "data" / "watchd.db")
    try:
        hook_rows = con.execute(
            "SELECT id, incident_id, kind, status, attempts FROM outbox WHERE channel = ? ORDER BY id",
            (CHANNEL,),
        ).fetchall()
        keys = dict(con.execute("SELECT id, check_name FROM incidents"))
        builtin = con.execute("SELECT status FROM builtin_tickets ORDER BY incident_id").fetchall()
    finally:
        con.close()

    # The outage happened and was retried through.
    assert sum(1 for r in receiver.requests if r[3] == 503) == receiver.failures
    assert any(attempts > 0 for *_, attempts in hook_rows)
    assert [s for *_, s, _ in hook_rows] == ["done"] * len(hook_rows)
    assert builtin == [("resolved",)] * 4
    # Exactly once, by op_id: the receiver's 2xx set is the outbox's row set, nothing twice.
    counts = Counter(op for _, _, op in receiver.delivered)
    assert sorted(counts) == [r[0] for r in hook_rows]
    assert set(counts.values()) == {1}
    # In order per incident: the kinds and op_ids each incident's queue held, in that order.
    expected: dict[str, list[tuple[str, int]]] = {}
    for op_id, incident_id, kind, _, _ in hook_rows:
        expected.setdefault(f"watchd-web01-{keys[incident_id]}-{incident_id}", []).append((kind, op_id))
    got: dict[str, list[tuple[str, int]]] = {}
    for key, kind, op_id in receiver.delivered:
        got.setdefault(key, []).append((kind, op_id))
    assert got == expected
    assert [k for k, _ in expected["watchd-web01-disk-1"]] == ["open", "update", "resolve"]
    assert [k for k, _ in expected["watchd-web01-web-2"]] == ["open", "resolve", "reopen", "resolve"]
    # Even the refused attempts never ran ahead of an earlier row of the same incident.
    for key, ops in got.items():
        tried = [op for k, _, op, _ in receiver.requests if k == key]
        assert tried == sorted(tried), f"{key}: attempts out of order {tried}"
        assert {op for op in tried} == {op for _, op in ops}
    # The open's answer is the ref every later intent of that incident carries.
    for key, kind, ref in receiver.refs:
        assert ref == (None if kind == "open" else f"HD-{key.rsplit('-', 1)[1]}"), (key, kind, ref)


async def test_idle_time_waits_for_the_head_of_a_blocked_queue(
    tmp_path: Path, receiver: FlakyReceiver
) -> None:
    """open fails (503) and backs off; the resolve queued behind it is not due before the open is, so
    the deliverer has nothing to do until then and must not poll in a loop meanwhile."""
    clock = FakeClock()
    store = Store(str(tmp_path / "w.db"))
    channel = TicketChannel(WebhookBackend(receiver.url, SECRET))
    try:
        deliverer = Deliverer(store, {CHANNEL: channel}, clock, random.Random(1), base_backoff=10)
        with store.transaction() as db:
            for kind in ("open", "resolve"):
                outbox.enqueue(db, 1, CHANNEL, kind, intent_payload(kind), clock.time())
        await deliverer.run_once()
        assert [(k, s) for k, _, _, s in receiver.requests] == [("watchd-web01-disk-1", 503)]
        assert outbox.next_attempt_at(store.db) > clock.time()
        assert deliverer._idle_time() > 0
    finally:
        await channel.close()
        store.close()


def intent_payload(kind: str) -> dict[str, Any]:
    payload = TicketIntent(
        kind=kind, key="watchd-web01-disk-1", incident_id=1, op_id=0, host="web01", check="disk",  # type: ignore[arg-type]
        priority="P2", state="CRITICAL", subject="disk", body="disk full", at=FakeClock().time(),
    ).to_json()  # fmt: skip
    del payload["op_id"]
    return payload
