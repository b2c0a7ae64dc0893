"""Two-way through a real daemon in-process (injected clock; the follow-up pass and the outbox are
driven directly): what a person does in the ticket system becomes an acknowledgement, timeline
notes and, with `two_way.resolve`, a manual resolve, each once, also across a restart. Polled
from a real Redmine 5; pushed through the webhook route by a Zendesk stand-in."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from standins.zendesk import Zendesk

from servers.redmine import RedmineServer
from watchd import config
from watchd.api import tickets as ticket_route
from watchd.core.clock import FakeClock
from watchd.daemon import Daemon

T0 = 1_800_000_000.0


class Host:
    """One failing plugin check routed to builtin and one ticket backend `desk`."""

    def __init__(self, root: Path, backend: str, api: bool = False) -> None:
        self.root = root
        plugin = root / "check_shop"
        plugin.write_text('#!/bin/sh\necho "SHOP CRITICAL - down"\nexit 2\n')
        plugin.chmod(0o755)
        self.cfg = root / "watchd.yaml"
        api_cfg = "{listen: 127.0.0.1, port: 0}" if api else "{enabled: false}"
        self.cfg.write_text(
            f"host: web01\ndata_dir: {root / 'data'}\napi: {api_cfg}\nlog: {{level: warning}}\n"
            "scheduler: {followup_interval: 1h}\ndefaults: {max_attempts: 1}\n"
            f"checks:\n  shop: {{command: [{plugin}], impact: high}}\n"
            f"tickets:\n  backends:\n    desk: {backend}\n  default: [builtin, desk]\n"
        )

    def daemon(self, clock: FakeClock) -> Daemon:
        return Daemon(config.load(str(self.cfg)), str(self.cfg), clock=clock)

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(self.root / "data" / "watchd.db")
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def events(self) -> list[tuple[str, str]]:
        return [(a, t) for a, t in self.query("SELECT action, text FROM incident_events ORDER BY id")]

    def ref(self) -> str:
        [(ref,)] = self.query("SELECT ref FROM ticket_refs WHERE channel = 'ticket:desk'")
        return str(ref)


async def started(host: Host, clock: FakeClock) -> Daemon:
    """A started daemon whose outbox is driven by the test (its own delivery loop stopped, so no
    two deliverers race on one row)."""
    d = host.daemon(clock)
    await d.start()
    assert d.parts is not None
    await d.parts.deliverer.stop()
    return d


async def opened(d: Daemon) -> None:
    await d.run_check("shop")
    assert d.parts is not None
    await d.parts.deliverer.run_once()


async def test_redmine_changes_become_ack_note_and_resolve_once(
    redmine_server: RedmineServer, tmp_path: Path
) -> None:
    """Alice takes the issue (incident acknowledged by her), replies (a timeline note), closes it
    (the incident is resolved by her, as two_way.resolve asks); a restart and more passes add
    nothing, and the resolve watchd then sends leaves the closed issue alone."""
    rm = redmine_server
    host = Host(
        tmp_path,
        f"{{type: redmine, url: '{rm.url}', project: hosting, api_key_file: {rm.api_key_file},"
        f" key_field_id: {rm.key_field_id}, last_op_field_id: {rm.last_op_field_id},"
        " two_way: {poll: 60s, resolve: true}}",
    )
    clock = FakeClock(T0)
    d = await started(host, clock)
    try:
        await opened(d)
        ref = host.ref()
        agent = {"key": rm.agent_key}
        rm.call("PUT", f"/issues/{ref}.json", {"issue": {"assigned_to_id": rm.agent_id}}, **agent)
        assert d.followup is not None
        clock.advance(61)  # the pass at start polled already
        await d.followup.tick()
        assert host.query("SELECT acked_by, status FROM incidents") == [("Alice Agent", "open")]
        rm.call("PUT", f"/issues/{ref}.json", {"issue": {"notes": "on it, disk is full"}}, **agent)
        await d.followup.tick()  # within the poll interval: not asked yet
        assert not [e for e in host.events() if e[0] == "ticket_reply"]
        clock.advance(61)
        await d.followup.tick()
        assert [t for a, t in host.events() if a == "ticket_reply"] == [
            f"reply by Alice Agent in desk ticket {ref}: on it, disk is full"
        ]
        rm.call("PUT", f"/issues/{ref}.json", {"issue": {"notes": "cleaned up", "status_id": 5}}, **agent)
        clock.advance(61)
        await d.followup.tick()
        assert host.query("SELECT status FROM incidents") == [("resolved",)]
        await d.parts.deliverer.run_once()  # type: ignore[union-attr]
    finally:
        await d.stop()
    before = (host.events(), host.query("SELECT count(*) FROM ticket_changes"), len(rm.journals(ref)))
    clock.advance(61)
    d = await started(host, clock)
    try:
        assert d.followup is not None
        await d.followup.tick()
        clock.advance(61)
        await d.followup.tick()
    finally:
        await d.stop()
    assert (host.events(), host.query("SELECT count(*) FROM ticket_changes"), len(rm.journals(ref))) == before
    actions = [a for a, _ in host.events()]
    assert [actions.count(a) for a in ("ack", "resolve", "ticket_reply")] == [1, 1, 1]
    assert host.query("SELECT count(*) FROM ticket_changes WHERE applied_at IS NULL") == [(0,)]
    assert host.query("SELECT status FROM outbox WHERE channel = 'ticket:desk'") == [("done",)] * 3


@pytest.fixture
async def zendesk() -> AsyncIterator[Zendesk]:
    z = Zendesk()
    await z.start()
    yield z
    await z.stop()
    assert z.violations == []


def signed(secret: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }


async def test_a_push_reads_the_ticket_once(zendesk: Zendesk, tmp_path: Path) -> None:
    """A signed push naming the ticket makes watchd read it back at once (no polling configured):
    the agent who took it acknowledges the incident; a repeated push adds nothing; a bad signature
    is 401, an unknown backend 404, a body naming no ticket 400."""
    secret = "push-secret"
    (tmp_path / "push.secret").write_text(secret)
    cfg = zendesk.config(tmp_path)
    spec = (
        "{"
        + ", ".join(f"{k}: '{v}'" for k, v in cfg.items())
        + f", two_way: {{poll: 0, secret_file: {tmp_path / 'push.secret'}}}}}"
    )
    host = Host(tmp_path, "{type: zendesk, " + spec[1:], api=True)
    d = await started(host, FakeClock(T0))
    try:
        await opened(d)
        ref = host.ref()
        zendesk.take(ref, "Alice Agent")
        assert d.api is not None
        url = f"http://127.0.0.1:{d.api.port}/api/v1/tickets/desk/events"
        body = json.dumps({"ticket": {"id": int(ref), "status": "open"}}).encode()
        async with aiohttp.ClientSession() as s:
            for _ in range(2):
                async with s.post(url, data=body, headers=signed(secret, body)) as resp:
                    assert (resp.status, await resp.json()) == (202, {"ticket": ref, "known": True})
                await asyncio.gather(*ticket_route._READS)
            async with s.post(url, data=body, headers=signed("wrong", body)) as resp:
                assert resp.status == 401
            async with s.post(
                url.replace("/desk/", "/nope/"), data=body, headers=signed(secret, body)
            ) as resp:
                assert resp.status == 404
            async with s.post(url, data=b'{"hello": 1}', headers=signed(secret, b'{"hello": 1}')) as resp:
                assert resp.status == 400
    finally:
        await d.stop()
    assert host.query("SELECT acked_by FROM incidents") == [("Alice Agent",)]
    assert host.query("SELECT kind, who FROM ticket_changes") == [("taken", "Alice Agent")]
    assert [a for a, _ in host.events()].count("ack") == 1
